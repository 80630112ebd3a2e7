//! Link fix for the voice: espeak-rs-sys builds espeak-ng against the system
//! libsonic (Debian `libsonic-dev`, so its CMake never tries to clone it) but
//! does not link it.
fn main() {
    println!("cargo:rustc-link-lib=static=sonic");
}
