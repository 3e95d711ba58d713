//! MPEG-TS bit layout (ISO/IEC 13818-1): 188-byte transport packets with adaptation fields (PCR,
//! random access, stuffing), the PAT and PMT sections with their CRC-32, and PES headers.
//!
//! It only lays out bytes it is given; choosing PIDs, timestamps and what goes in a PES is
//! `mpegts/mod.rs`. No I/O, no panics: every size here is bounded by the packet size.

/// Size of a transport packet.
pub const PACKET_SIZE: usize = 188;
/// Payload bytes of a packet without adaptation field.
const MAX_PAYLOAD: usize = PACKET_SIZE - 4;
/// Timestamps (PTS, DTS, PCR base) are 33-bit.
pub const TS_MODULO: i64 = 1 << 33;

/// A PID with its continuity counter.
pub struct PidWriter<'a> {
    pub pid: u16,
    pub counter: &'a mut u8,
}

/// Options of the first packet of a payload unit.
#[derive(Default, Clone, Copy)]
pub struct UnitStart {
    /// PCR base (27 MHz extension written as 0) to carry in the adaptation field.
    pub pcr: Option<i64>,
    /// Set `random_access_indicator`.
    pub random_access: bool,
}

impl PidWriter<'_> {
    /// Packetizes one payload unit (a PES packet or a PSI section with its pointer field):
    /// `payload_unit_start_indicator` on the first packet, `start` options in its adaptation
    /// field, and adaptation-field stuffing so that the last packet is exactly full.
    pub fn write_unit(&mut self, out: &mut Vec<u8>, payload: &[u8], start: UnitStart) {
        let mut pos = 0;
        let mut first = true;
        while first || pos < payload.len() {
            let mut af_fields = 0usize; // flags byte + optional fields
            let mut flags = 0u8;
            if first && (start.pcr.is_some() || start.random_access) {
                af_fields = 1;
                if start.random_access {
                    flags |= 0x40;
                }
                if start.pcr.is_some() {
                    flags |= 0x10;
                    af_fields += 6;
                }
            }
            let af_min = if af_fields > 0 { 1 + af_fields } else { 0 };
            let remaining = payload.len() - pos;
            let (af_len, take) = if remaining >= MAX_PAYLOAD - af_min {
                (af_min, MAX_PAYLOAD - af_min)
            } else {
                (MAX_PAYLOAD - remaining, remaining)
            };
            out.push(0x47);
            let pusi = if first { 0x40 } else { 0 };
            out.push(pusi | ((self.pid >> 8) as u8 & 0x1f));
            out.push(self.pid as u8);
            let afc = if af_len > 0 { 0x30 } else { 0x10 };
            out.push(afc | (*self.counter & 0x0f));
            *self.counter = (*self.counter + 1) & 0x0f;
            if af_len > 0 {
                out.push((af_len - 1) as u8);
                if af_len > 1 {
                    out.push(flags);
                    let mut written = 2;
                    if let (true, Some(pcr)) = (first, start.pcr) {
                        let base = pcr.rem_euclid(TS_MODULO) as u64;
                        out.extend_from_slice(&[
                            (base >> 25) as u8,
                            (base >> 17) as u8,
                            (base >> 9) as u8,
                            (base >> 1) as u8,
                            (((base & 1) as u8) << 7) | 0x7e,
                            0,
                        ]);
                        written += 6;
                    }
                    out.extend(std::iter::repeat_n(0xff, af_len - written));
                }
            }
            out.extend_from_slice(&payload[pos..pos + take]);
            pos += take;
            first = false;
        }
    }
}

/// CRC-32/MPEG-2 (polynomial 0x04C11DB7, initial value all ones, no reflection, no final xor).
pub fn crc32_mpeg2(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 { (crc << 1) ^ 0x04c1_1db7 } else { crc << 1 };
        }
    }
    crc
}

/// A PSI section (pointer field first) with `table_id`, `id` (transport_stream_id or
/// program_number), version 0, current, section 0 of 0, the given body and the CRC.
fn psi_section(table_id: u8, id: u16, body: &[u8]) -> Vec<u8> {
    let section_length = 5 + body.len() + 4;
    let mut s = vec![0u8, table_id, 0xb0 | ((section_length >> 8) as u8 & 0x0f), section_length as u8];
    s.extend_from_slice(&id.to_be_bytes());
    s.extend_from_slice(&[0xc1, 0x00, 0x00]);
    s.extend_from_slice(body);
    let crc = crc32_mpeg2(&s[1..]);
    s.extend_from_slice(&crc.to_be_bytes());
    s
}

/// The PAT section for one program.
pub fn pat(program_number: u16, pmt_pid: u16) -> Vec<u8> {
    let mut body = program_number.to_be_bytes().to_vec();
    body.extend_from_slice(&(0xe000 | pmt_pid).to_be_bytes());
    psi_section(0x00, 1, &body)
}

/// The PMT section: `(stream_type, pid)` per elementary stream, no descriptors.
pub fn pmt(program_number: u16, pcr_pid: u16, streams: &[(u8, u16)]) -> Vec<u8> {
    let mut body = (0xe000 | pcr_pid).to_be_bytes().to_vec();
    body.extend_from_slice(&[0xf0, 0x00]);
    for &(stream_type, pid) in streams {
        body.push(stream_type);
        body.extend_from_slice(&(0xe000 | pid).to_be_bytes());
        body.extend_from_slice(&[0xf0, 0x00]);
    }
    psi_section(0x02, program_number, &body)
}

fn push_timestamp(out: &mut Vec<u8>, prefix: u8, ts: i64) {
    let ts = ts.rem_euclid(TS_MODULO) as u64;
    out.extend_from_slice(&[
        (prefix << 4) | ((((ts >> 30) & 7) as u8) << 1) | 1,
        (ts >> 22) as u8,
        ((((ts >> 15) & 0x7f) as u8) << 1) | 1,
        (ts >> 7) as u8,
        (((ts & 0x7f) as u8) << 1) | 1,
    ]);
}

/// A PES header with PTS (and DTS when it differs) for `payload_len` bytes that follow;
/// `bounded` false writes PES_packet_length 0 (allowed for video only). Returns `None` when a
/// bounded length does not fit 16 bits.
pub fn pes_header(stream_id: u8, pts: i64, dts: i64, payload_len: usize, bounded: bool) -> Option<Vec<u8>> {
    let with_dts = pts.rem_euclid(TS_MODULO) != dts.rem_euclid(TS_MODULO);
    let header_data_len: usize = if with_dts { 10 } else { 5 };
    let packet_len = if bounded { u16::try_from(3 + header_data_len + payload_len).ok()? } else { 0 };
    let mut h = vec![0, 0, 1, stream_id];
    h.extend_from_slice(&packet_len.to_be_bytes());
    h.push(0x84); // '10', not scrambled, data_alignment_indicator
    h.push(if with_dts { 0xc0 } else { 0x80 });
    h.push(header_data_len as u8);
    if with_dts {
        push_timestamp(&mut h, 0b0011, pts);
        push_timestamp(&mut h, 0b0001, dts);
    } else {
        push_timestamp(&mut h, 0b0010, pts);
    }
    Some(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_a_known_pat() {
        // The PAT ffmpeg writes (transport_stream_id 1, program 1 → PMT PID 0x1000).
        let s = pat(1, 0x1000);
        assert_eq!(
            &s[1..],
            &[0x00, 0xb0, 0x0d, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xf0, 0x00, 0x2a, 0xb1, 0x04, 0xb2]
        );
        assert_eq!(crc32_mpeg2(&s[1..]), 0);
    }

    #[test]
    fn units_fill_whole_packets() {
        for len in [0usize, 1, 100, 175, 176, 177, 182, 183, 184, 185, 367, 368, 369, 1000, 10_000] {
            for start in [
                UnitStart::default(),
                UnitStart { pcr: Some(123_456), random_access: true },
                UnitStart { pcr: None, random_access: true },
            ] {
                let mut cc = 15u8;
                let mut out = Vec::new();
                let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
                PidWriter { pid: 0x100, counter: &mut cc }.write_unit(&mut out, &payload, start);
                assert_eq!(out.len() % PACKET_SIZE, 0, "len {len}");
                let mut got = Vec::new();
                for (i, p) in out.chunks(PACKET_SIZE).enumerate() {
                    assert_eq!(p[0], 0x47);
                    assert_eq!(p[1] & 0x40 != 0, i == 0);
                    assert_eq!(p[3] & 0x0f, ((15 + i) % 16) as u8);
                    let body = if p[3] & 0x20 != 0 { &p[5 + usize::from(p[4])..] } else { &p[4..] };
                    got.extend_from_slice(body);
                }
                assert_eq!(got, payload, "len {len}");
            }
        }
    }

    #[test]
    fn pes_timestamps() {
        let h = pes_header(0xe0, 900_000 + TS_MODULO, 900_000, 10, false).unwrap();
        assert_eq!(h.len(), 14);
        assert_eq!(&h[4..6], &[0, 0]);
        let h = pes_header(0xc0, 3600, 0, 10, true).unwrap();
        assert_eq!(h.len(), 19);
        assert_eq!(u16::from_be_bytes([h[4], h[5]]), 3 + 10 + 10);
        assert_eq!(&h[9..14], &[0x31, 0x00, 0x01, 0x1c, 0x21]);
        assert!(pes_header(0xc0, 0, 0, 70_000, true).is_none());
    }
}
