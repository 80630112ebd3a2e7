//! A box booted for real: the base image provisioned by `sos-flash`, run by
//! `qemu-system-x86_64` under software emulation (TCG) with user-mode
//! networking `restrict=on`: the guest reaches nothing but the one cloud
//! port the test forwards to it, and the host reaches the box's port 8080
//! through a forwarded port. The kernel's serial console and a virtio
//! console carrying the journal (the base image forwards it there) go to
//! files the test reads.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the guest finds its cloud: QEMU forwards this address to the
/// host's loopback.
pub const GUEST_CLOUD: &str = "10.0.2.100:8443";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn script(name: &str, args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(repo().join("scripts").join(name))
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("scripts/{name}: {e}"));
    assert!(out.status.success(), "scripts/{name} failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The base image's directory (built once per machine, then cached).
pub fn base_image() -> PathBuf {
    PathBuf::from(script("build-base-image.sh", &[]))
}

/// The appliance's package, from the test build.
pub fn package(dir: &Path) -> PathBuf {
    PathBuf::from(script(
        "build-deb.sh",
        &["--dev", "--out", &dir.display().to_string()],
    ))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub struct Vm {
    child: Option<Child>,
    monitor: PathBuf,
    pub kernel: PathBuf,
    pub console: PathBuf,
    /// The box's port 8080, on the host.
    pub http: String,
    pub started: Instant,
}

impl Vm {
    /// Boots `disk` with the base image's kernel; `cloud_port` is the
    /// host's sos-cloud.
    pub fn boot(base: &Path, disk: &Path, cloud_port: u16, run_dir: &Path, name: &str) -> Vm {
        let http_port = free_port();
        // ttyS0: the kernel; hvc0 (virtio): the journal, which the base
        // image's journald forwards there.
        let kernel = run_dir.join(format!("{name}.kernel"));
        let console = run_dir.join(format!("{name}.console"));
        let monitor = run_dir.join(format!("{name}.monitor"));
        let _ = std::fs::remove_file(&monitor);
        let (guest_ip, guest_port) = GUEST_CLOUD.split_once(':').unwrap();
        let netdev = format!(
            "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:{http_port}-:8080,\
             guestfwd=tcp:{guest_ip}:{guest_port}-cmd:socat - TCP:127.0.0.1:{cloud_port}"
        );
        let child = Command::new("qemu-system-x86_64")
            .args(["-accel", "tcg", "-m", "2048", "-smp", "2", "-nodefaults"])
            .args(["-display", "none", "-no-reboot"])
            .arg("-kernel")
            .arg(base.join("vmlinuz"))
            .arg("-initrd")
            .arg(base.join("initrd.img"))
            .args(["-append", "root=LABEL=sos-root rw console=ttyS0 panic=-1"])
            .arg("-drive")
            .arg(format!("file={},format=raw,if=virtio", disk.display()))
            .args(["-netdev", &netdev, "-device", "virtio-net-pci,netdev=net0"])
            .args(["-serial", &format!("file:{}", kernel.display())])
            .args(["-device", "virtio-serial-pci"])
            .args([
                "-chardev",
                &format!("file,id=journal,path={}", console.display()),
            ])
            .args(["-device", "virtconsole,chardev=journal"])
            .args([
                "-monitor",
                &format!("unix:{},server,nowait", monitor.display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("qemu-system-x86_64 (Debian package qemu-system-x86)");
        Vm {
            child: Some(child),
            monitor,
            kernel,
            console,
            http: format!("http://127.0.0.1:{http_port}"),
            started: Instant::now(),
        }
    }

    pub fn console_text(&self) -> String {
        std::fs::read(&self.console)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last lines of the console, for failure messages.
    pub fn tail(&self) -> String {
        let last = |text: String, n: usize| {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        };
        let kernel = std::fs::read(&self.kernel)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        format!(
            "-- journal --\n{}\n-- kernel console --\n{}",
            last(self.console_text(), 50),
            last(kernel, 20)
        )
    }

    /// Pulls the power cord: QEMU killed, nothing flushed.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Says `command` to QEMU's monitor and waits for its answer (the
    /// monitor drops a command whose connection closes before it has read
    /// it).
    fn monitor(&self, command: &str) {
        let Ok(mut m) = UnixStream::connect(&self.monitor) else {
            return;
        };
        let _ = m.write_all(format!("{command}\n").as_bytes());
        let _ = m.set_read_timeout(Some(Duration::from_millis(500)));
        let until = Instant::now() + Duration::from_secs(3);
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while Instant::now() < until {
            match m.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
            // The banner's prompt, then the prompt after the command.
            if String::from_utf8_lossy(&seen).matches("(qemu)").count() >= 2 {
                break;
            }
        }
    }

    /// The power button (ACPI): systemd shuts down cleanly; waits for QEMU
    /// to exit, pressing again every 30 s.
    pub fn power_off(&mut self, within: Duration) {
        let until = Instant::now() + within;
        let mut pressed: Option<Instant> = None;
        while Instant::now() < until {
            if pressed.is_none_or(|at| at.elapsed() > Duration::from_secs(30)) {
                self.monitor("system_powerdown");
                pressed = Some(Instant::now());
            }
            let Some(child) = self.child.as_mut() else {
                return;
            };
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let tail = self.tail();
        self.kill();
        panic!("the box did not power off within {within:?}:\n{tail}");
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Bytes `[from, from+len)` of `disk`, as a file of their own (a partition
/// for debugfs, journalctl or mtools).
pub fn extract(disk: &Path, from: u64, len: u64, to: &Path) {
    use std::io::{Seek, SeekFrom};
    let mut src = std::fs::File::open(disk).unwrap();
    src.seek(SeekFrom::Start(from)).unwrap();
    let mut dst = std::fs::File::create(to).unwrap();
    std::io::copy(&mut src.take(len), &mut dst).unwrap();
}
