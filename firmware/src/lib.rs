//! Flashing tool for SOS Edge boxes: base image + appliance + provisioning bundle (a later issue).
