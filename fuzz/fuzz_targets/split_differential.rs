#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| smtp_proto::__fuzz::server_split_differential(data));
