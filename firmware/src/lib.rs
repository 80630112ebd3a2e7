//! `sos-flash`: an installer's tool that turns a base OS image, the
//! appliance's package and one clinic's provisioning bundle into a box
//! that sets itself up and enrolls at first boot, with no keyboard.
//!
//! * [`bundle`]: the clinic's bundle (TOML), checked field by field, with
//!   its secrets masked wherever it is shown.
//! * [`image`]: a disk image's partitions (MBR or GPT) and its FAT boot
//!   partition, opened in place without mounting.
//! * [`inspect`]: what an image holds, for `sos-flash inspect`.
//!
//! Writing a bundle into an image (`sos-flash provision`) is the next step
//! of this crate (`docs/installers.md`).

pub mod bundle;
pub mod image;
pub mod inspect;
