//! `whisper-ggml`: converts a CTranslate2 Whisper model (from a registry
//! package) to the ggml file whisper.cpp loads. `scripts/fetch-whisper.sh`
//! runs it; the box itself never converts anything.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sos_listen::model::{self, Weights};

#[derive(Parser)]
#[command(
    version,
    about = "Convert CTranslate2 Whisper weights to whisper.cpp's ggml file"
)]
struct Cli {
    /// CTranslate2 model.bin
    #[arg(long)]
    ct2: PathBuf,
    /// Mel filter bank as .npy (mel_80.npy from openai-whisper's assets)
    #[arg(long)]
    mel: PathBuf,
    /// Tokenizer vocabulary (gpt2.tiktoken from openai-whisper's assets)
    #[arg(long)]
    vocab: PathBuf,
    /// Output ggml .bin
    #[arg(long)]
    out: PathBuf,
    /// How the matrices are stored: q8_0 (what the box runs) or f16
    #[arg(long, value_enum, default_value = "q8_0")]
    weights: Weights,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match model::convert(&cli.ct2, &cli.mel, &cli.vocab, &cli.out, cli.weights) {
        Ok(info) => {
            println!(
                "wrote {} ({} tensors, {} mels, {} vocabulary)",
                cli.out.display(),
                info.tensors,
                info.n_mels,
                info.n_vocab
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("whisper-ggml: {e}");
            ExitCode::FAILURE
        }
    }
}
