//! Any bytes as an I/O Events delivery body: parsing never panics, and what it accepts is well formed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = domain::events::parse_io_event(data) {
        assert!(!event.id.trim().is_empty());
        assert!(!event.event_type.trim().is_empty());
    }
});
