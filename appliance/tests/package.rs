//! The box's Debian package, built by the project's script from the
//! binary these tests run, read back with dpkg-deb: what an installer's
//! `dpkg -i` would put on the box. (Installing it under systemd is the
//! firmware boot test's job.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .output()
        .expect("dpkg-deb");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_package_installs_the_box_its_unit_its_user_and_its_models() {
    let out = tempfile::tempdir().unwrap();
    let built = Command::new("bash")
        .arg(repo().join("scripts/build-deb.sh"))
        .args(["--dev", "--out"])
        .arg(out.path())
        .output()
        .expect("scripts/build-deb.sh");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb = PathBuf::from(String::from_utf8_lossy(&built.stdout).trim());
    assert!(deb.starts_with(out.path()), "{deb:?}");

    let info = dpkg_deb(&["--info"], &deb);
    assert!(info.contains("Package: sos-appliance"), "{info}");
    let depends = info
        .lines()
        .find(|l| l.trim_start().starts_with("Depends:"))
        .unwrap_or_else(|| panic!("no Depends: {info}"));
    // The sound library (dpkg-shlibdeps found it), systemd for the unit
    // and sysusers, passwd for usermod.
    for dep in ["libasound2", "libc6", "systemd", "passwd"] {
        assert!(depends.contains(dep), "{depends}");
    }
    for script in ["postinst", "prerm", "postrm"] {
        assert!(info.contains(script), "{script} missing: {info}");
    }
    // An upgrade keeps the installer's edits to the config.
    let control = tempfile::tempdir().unwrap();
    let status = Command::new("dpkg-deb")
        .arg("--control")
        .arg(&deb)
        .arg(control.path())
        .status()
        .unwrap();
    assert!(status.success());
    let conffiles = std::fs::read_to_string(control.path().join("conffiles")).unwrap();
    assert!(
        conffiles.lines().any(|l| l == "/etc/sos-edge/config.toml"),
        "{conffiles}"
    );

    let contents = dpkg_deb(&["--contents"], &deb);
    for (mode, path) in [
        ("-rwxr-xr-x", "./usr/bin/sos-appliance"),
        (
            "-rw-r--r--",
            "./usr/lib/systemd/system/sos-appliance.service",
        ),
        ("-rw-r--r--", "./usr/lib/sysusers.d/sos-edge.conf"),
        ("-rw-r-----", "./etc/sos-edge/config.toml"),
        (
            "-rw-r--r--",
            "./usr/share/sos-edge/models/voices/en_US-joe-medium.onnx",
        ),
        (
            "-rw-r--r--",
            "./usr/share/sos-edge/models/voices/en_US-joe-medium.onnx.json",
        ),
        (
            "-rw-r--r--",
            "./usr/share/sos-edge/models/onnxruntime/libonnxruntime.so.1.31.1",
        ),
        (
            "-rw-r--r--",
            "./usr/share/sos-edge/models/whisper/ggml-tiny.en-q8_0.bin",
        ),
        ("-rw-r--r--", "./usr/share/sos-edge/espeak-ng-data/phontab"),
        ("-rw-r--r--", "./usr/share/sos-edge/espeak-ng-data/en_dict"),
    ] {
        let line = contents
            .lines()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} not in the package:\n{contents}"));
        assert!(line.starts_with(mode), "{line}");
    }
    // Nothing from a developer's data or the test runs.
    assert!(
        !contents.contains("demo-data") && !contents.contains(".db"),
        "{contents}"
    );

    // What dpkg would unpack: the unit as shipped, a binary that runs, a
    // default config the daemon accepts as it stands.
    let root = tempfile::tempdir().unwrap();
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(root.path())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        std::fs::read(
            root.path()
                .join("usr/lib/systemd/system/sos-appliance.service")
        )
        .unwrap(),
        std::fs::read(repo().join("systemd/sos-appliance.service")).unwrap()
    );
    // The unit points the voice at the phoneme data the package carries.
    let unit = std::fs::read_to_string(
        root.path()
            .join("usr/lib/systemd/system/sos-appliance.service"),
    )
    .unwrap();
    let espeak = unit
        .lines()
        .find_map(|l| l.strip_prefix("Environment=PIPER_ESPEAKNG_DATA_DIRECTORY="))
        .unwrap_or_else(|| panic!("the unit does not say where eSpeak's data is:\n{unit}"));
    let espeak = root.path().join(espeak.trim_start_matches('/'));
    assert!(
        espeak.join("espeak-ng-data/phontab").is_file(),
        "{espeak:?}"
    );
    let models = unit
        .lines()
        .find_map(|l| l.strip_prefix("Environment=SOS_MODELS_DIR="))
        .unwrap_or_else(|| panic!("the unit does not say where the models are:\n{unit}"));
    let models = root.path().join(models.trim_start_matches('/'));
    assert!(
        models.join("voices/en_US-joe-medium.onnx").is_file(),
        "{models:?}"
    );
    let bin = root.path().join("usr/bin/sos-appliance");
    let v = Command::new(&bin).arg("--version").output().unwrap();
    assert!(
        String::from_utf8_lossy(&v.stdout).starts_with("sos-appliance "),
        "{v:?}"
    );
    let data = tempfile::tempdir().unwrap();
    let run = Command::new(&bin)
        .args(["run", "--config"])
        .arg(root.path().join("etc/sos-edge/config.toml"))
        .arg("--data-dir")
        .arg(data.path())
        .args(["--listen", "127.0.0.1:0"])
        .env("SOS_LOG", "error")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    // The config is valid (no "invalid"); the box, never enrolled and with
    // no practice, says what to do.
    assert!(!run.status.success());
    assert!(!stderr.contains("invalid"), "{stderr}");
    assert!(stderr.contains("no practice configured"), "{stderr}");
}
