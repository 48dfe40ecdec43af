//! Any byte string fed to the strict reader must yield Ok or a ClawError: never a panic, an
//! allocation proportional to a lying header, or unbounded output.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = krill_claw::Limits {
        max_total_bytes: 64 << 20,
        max_entries: 10_000,
        ..krill_claw::Limits::default()
    };
    if let Ok(info) = krill_claw::verify_bytes(data, &limits) {
        // Whatever passed verification must respect the limits it was checked against.
        let total: u64 = info.entries.iter().map(|e| e.size).sum();
        assert!(total <= limits.max_total_bytes);
        assert!(info.entries.len() as u64 <= limits.max_entries);
    }
});
