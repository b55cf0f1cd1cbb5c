//! The AFL++ target: `scripts/fuzz` builds it with `cargo afl build` and runs it.
fn main() {
    mapishim_fuzz::init(&mapishim_fuzz::default_root());
    afl::fuzz!(|data: &[u8]| {
        mapishim_fuzz::run(data);
    });
}
