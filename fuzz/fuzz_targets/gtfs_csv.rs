#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kanjo_fuzz_replay::gtfs_csv(data));
