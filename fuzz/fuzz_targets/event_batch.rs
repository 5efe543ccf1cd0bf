#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kanjo_fuzz_replay::event_batch(data));
