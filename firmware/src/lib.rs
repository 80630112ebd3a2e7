//! `sos-flash`: an installer's tool that turns a base OS image, the
//! appliance's package and one clinic's provisioning bundle into a box
//! that sets itself up and enrolls at first boot, with no keyboard.
//!
//! * [`bundle`]: the clinic's bundle (TOML), checked field by field, with
//!   its secrets masked wherever it is shown.
//! * [`image`]: a disk image's partitions (MBR or GPT) and its FAT boot
//!   partition, opened in place without mounting.
//! * [`inspect`]: what an image holds, for `sos-flash inspect`.
//! * [`firstrun`]: the first-boot script and `cmdline.txt` for a Raspberry
//!   Pi OS before Trixie (no cloud-init).
//! * [`provision`]: a base image with the bundle, the package and the
//!   first-boot seed written into its boot partition, for
//!   `sos-flash provision`.
//! * [`source`]: the base image as a stream (raw or xz), its boot
//!   partition held and edited in memory.
//! * [`write`]: the image out to a file (sparse) or a disk, read back and
//!   compared by SHA-256, with progress bars.
//! * [`device`]: whether a `--device` may be written over (not the system
//!   disk, nothing mounted, removable or `--force`).
//!
//! `docs/installers.md` says what is built and what is next.

pub mod bundle;
pub mod device;
pub mod firstrun;
pub mod image;
pub mod inspect;
pub mod provision;
pub mod source;
pub mod write;
