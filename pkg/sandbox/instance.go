package sandbox

// Instance is this executor's instance name (the label on its sandboxes),
// as configured or defaulted from the host name.
func (d *Driver) Instance() string { return d.cfg.Instance }
