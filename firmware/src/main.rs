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
    /// Write a ready image or card: the base image (.img or .img.xz) with
    /// the bundle, the package and the first-boot seed on its boot
    /// partition, read back and checked.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["output", "device"])))]
    Provision {
        #[arg(long)]
        image: PathBuf,
        #[arg(long)]
        bundle: PathBuf,
        #[arg(long)]
        deb: PathBuf,
        /// The image file to write.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The SD card or USB stick to write (the whole disk, e.g. /dev/sdb).
        #[arg(long)]
        device: Option<PathBuf>,
        /// Write to a disk the kernel does not call removable.
        #[arg(long, requires = "device")]
        force: bool,
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
            device,
            force,
        } => {
            use sos_flash::write::Target;
            let text = std::fs::read_to_string(&bundle)
                .with_context(|| format!("cannot read {}", bundle.display()))?;
            let b = sos_flash::bundle::Bundle::parse(&text)
                .with_context(|| format!("{} is not a usable bundle", bundle.display()))?;
            let target = match (output, device) {
                (Some(out), _) => Target::File(out),
                (None, Some(dev)) => {
                    let host = sos_flash::device::Host::this_machine();
                    let disk = sos_flash::device::check(&dev, &host, force)?;
                    eprintln!(
                        "writing to {} ({}, {})",
                        dev.display(),
                        disk.model,
                        sos_flash::device::size_label(disk.size)
                    );
                    Target::Disk {
                        path: dev,
                        size: disk.size,
                    }
                }
                (None, None) => anyhow::bail!("give -o FILE or --device DISK"),
            };
            let started = std::time::Instant::now();
            let done = sos_flash::provision::provision(&image, &b, &deb, &target)?;
            println!(
                "wrote and verified {} ({}) in {:.1} s ({}): {}",
                target.path().display(),
                sos_flash::device::size_label(done.bytes),
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
