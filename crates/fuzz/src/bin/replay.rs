//! Runs saved cases (seeds, AFL++ findings) through the same oracle without AFL++:
//! `replay FILE...` panics on the first case the oracle rejects. With
//! `MAPISHIM_FUZZ_REPEAT=N` each case runs N times and its mean time is printed.
fn main() {
    let repeat: u32 = std::env::var("MAPISHIM_FUZZ_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let world = mapishim_fuzz::init(&mapishim_fuzz::default_root());
    let mut count = 0;
    for arg in std::env::args_os().skip(1) {
        let path = std::path::PathBuf::from(arg);
        let files: Vec<_> = if path.is_dir() {
            let mut v: Vec<_> = std::fs::read_dir(&path)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
                .collect();
            v.sort();
            v
        } else {
            vec![path]
        };
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let start = std::time::Instant::now();
            let mut outcome = ("none", 0);
            for _ in 0..repeat {
                outcome = mapishim_fuzz::run(&data);
            }
            let each = start.elapsed() / repeat;
            eprintln!(
                "{}: {} -> {} ({each:?} each)",
                file.display(),
                outcome.0,
                outcome.1
            );
            count += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&world.root);
    println!("{count} cases passed");
}
