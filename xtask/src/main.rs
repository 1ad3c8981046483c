//! `cargo xtask routes [--check]`: see the library.

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = xtask::workspace_root();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["routes"] => {
            for path in xtask::write(&root)? {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        ["routes", "--check"] => {
            let drift = xtask::drift(&root)?;
            if drift.is_empty() {
                return Ok(());
            }
            for path in &drift {
                eprintln!("differs from the route table: {}", path.display());
            }
            anyhow::bail!("run `cargo xtask routes`")
        }
        _ => anyhow::bail!("usage: cargo xtask routes [--check]"),
    }
}
