//! placeholder
use clap::Args;
/// Benchmark options.
#[derive(Args, Debug)]
pub struct BenchArgs {}
pub async fn run(_args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
