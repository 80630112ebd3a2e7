//! `sos-flash`: see the crate's documentation and `docs/installers.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "sos-flash",
    version,
    about = "Prepare SOS Edge boxes for a clinic"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show an image's partitions, its first-boot mechanism and the bundle
    /// written into it (the token and the Wi-Fi passphrase masked).
    Inspect { image: PathBuf },
    /// Check a provisioning bundle (TOML) and show it, secrets masked.
    Check { bundle: PathBuf },
    /// Write a ready image: the base image with the bundle, the package and
    /// the first-boot seed on its boot partition.
    Provision {
        #[arg(long)]
        image: PathBuf,
        #[arg(long)]
        bundle: PathBuf,
        #[arg(long)]
        deb: PathBuf,
        /// The image to write.
        #[arg(short, long)]
        output: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sos-flash: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    use anyhow::Context;
    match cli.command {
        Command::Inspect { image } => {
            let report = sos_flash::inspect::inspect(&image)?;
            print!("{}", report.text());
        }
        Command::Provision {
            image,
            bundle,
            deb,
            output,
        } => {
            let text = std::fs::read_to_string(&bundle)
                .with_context(|| format!("cannot read {}", bundle.display()))?;
            let b = sos_flash::bundle::Bundle::parse(&text)
                .with_context(|| format!("{} is not a usable bundle", bundle.display()))?;
            let started = std::time::Instant::now();
            let done = sos_flash::provision::provision(&image, &b, &deb, &output)?;
            println!(
                "wrote {} in {:.1} s ({}): {}",
                output.display(),
                started.elapsed().as_secs_f64(),
                done.first_boot.describe(),
                done.files.join(", ")
            );
        }
        Command::Check { bundle } => {
            let text = std::fs::read_to_string(&bundle)
                .with_context(|| format!("cannot read {}", bundle.display()))?;
            let b = sos_flash::bundle::Bundle::parse(&text)
                .with_context(|| format!("{} is not a usable bundle", bundle.display()))?;
            for (k, v) in b.masked() {
                println!("{k} = {v}");
            }
        }
    }
    Ok(())
}
