//! What the detection tests share beyond the analysis calls of [`super::analysis`]: where the
//! detector is installed, and whether a test must skip without it.

use std::path::PathBuf;

/// `detection/`: `detector.cjs` and its `node_modules`.
pub fn detector_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("detection")
}

/// Whether `npm ci` was run in `detection/`; without it a test prints "skipped" and passes,
/// unless `OPENKVS_REQUIRE_DETECTOR` is set (CI), where it fails.
pub fn detector_installed() -> bool {
    let ok = detector_dir().join("node_modules/@vladmandic/human/models/centernet.json").is_file();
    if !ok {
        assert!(
            std::env::var_os("OPENKVS_REQUIRE_DETECTOR").is_none(),
            "OPENKVS_REQUIRE_DETECTOR set but detection/node_modules is missing (run `npm ci` in detection/)"
        );
        eprintln!("skipped: the detector is not installed (run `npm ci` in detection/)");
    }
    ok
}
