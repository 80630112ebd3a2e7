//! Box <-> cloud sync protocol and the cloud control plane (issue 6 fills this in).
