//! `docs/CONFIGURATION.md` cannot go stale: every key it lists must be a key of the configuration
//! struct (parsing it alone must succeed: unknown keys are an error), every default it states must
//! be the built-in default (a file holding only that key, at that value, must equal
//! `Config::default()`), and every key of the shipped `config/openkvs.toml` (set or commented out)
//! must be listed.

use std::collections::BTreeSet;
use std::path::Path;

use openkvs::app::Config;

/// (key, default column) of every row of the reference table.
fn documented() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/CONFIGURATION.md")).unwrap();
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split(" | ").collect();
            let key = cells.first()?.strip_prefix("| `")?.strip_suffix('`')?;
            Some((key.to_owned(), cells.get(1)?.trim().to_owned()))
        })
        .collect()
}

/// A TOML document setting `key` (dotted) to `value`.
fn document(key: &str, value: &str) -> String {
    match key.rsplit_once('.') {
        Some((section, leaf)) => format!("[{section}]\n{leaf} = {value}\n"),
        None => format!("{key} = {value}\n"),
    }
}

/// Every assignment in the shipped file, set or commented out, as a dotted key.
fn shipped_keys() -> BTreeSet<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/openkvs.toml")).unwrap();
    let mut section = String::new();
    let mut keys = BTreeSet::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(s) = t.strip_prefix("[[").and_then(|s| s.strip_suffix("]]")) {
            section = s.to_owned();
        } else if let Some(s) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.to_owned();
        } else {
            // `key = value` or exactly `# key = value` (indented examples inside comments are not keys).
            let body = line.strip_prefix("# ").unwrap_or(line);
            if let Some((k, _)) = body.split_once(" = ")
                && !k.is_empty()
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                keys.insert(if section.is_empty() { k.to_owned() } else { format!("{section}.{k}") });
            }
        }
    }
    keys
}

#[test]
fn every_documented_key_exists_with_its_documented_default() {
    let rows = documented();
    assert!(rows.len() > 50, "the table was found ({} rows)", rows.len());
    for (key, default) in &rows {
        if key.starts_with("auth.keys.") {
            continue; // fields of an array entry: checked below as a whole entry
        }
        let value = match default.strip_prefix('`').and_then(|d| d.strip_suffix('`')) {
            Some(v) => v.to_owned(),
            None => {
                // "none (e.g. `value`)": the key exists (parses with the example), no default.
                let example =
                    default.split('`').nth(1).unwrap_or_else(|| panic!("{key}: no example in {default}"));
                let doc = document(key, example);
                Config::from_toml(&doc, Path::new("doc")).unwrap_or_else(|e| panic!("{key}: {e}"));
                continue;
            }
        };
        let doc = document(key, &value);
        let parsed =
            Config::from_toml(&doc, Path::new("doc")).unwrap_or_else(|e| panic!("{key}: {e}\n{doc}"));
        assert_eq!(
            parsed,
            Config::default(),
            "{key}: the documented default {value} is not the built-in one"
        );
    }
    let entry: Vec<&(String, String)> = rows.iter().filter(|(k, _)| k.starts_with("auth.keys.")).collect();
    let fields: Vec<String> = entry
        .iter()
        .filter_map(|(k, d)| {
            let v = d.strip_prefix('`')?.strip_suffix('`')?;
            Some(format!("{} = {v}", k.trim_start_matches("auth.keys.")))
        })
        .collect();
    let doc =
        format!("[[auth.keys]]\n{}\noperations = [\"PutMedia\"]\nstreams = [\"cam-*\"]\n", fields.join("\n"));
    Config::from_toml(&doc, Path::new("doc")).unwrap_or_else(|e| panic!("auth.keys: {e}\n{doc}"));
}

#[test]
fn every_key_of_the_shipped_file_is_documented() {
    let documented: BTreeSet<String> = documented().into_iter().map(|(k, _)| k).collect();
    let missing: Vec<String> = shipped_keys().difference(&documented).cloned().collect();
    assert!(
        missing.is_empty(),
        "keys in config/openkvs.toml missing from docs/CONFIGURATION.md: {missing:?}"
    );
}

#[test]
fn the_compose_configuration_parses() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/openkvs-compose.toml"));
    let cfg = Config::from_toml(&std::fs::read_to_string(path).unwrap(), path).unwrap();
    assert_eq!(cfg.workers.notifications.nats_url.as_deref(), Some("nats://nats:4222"));
}
