package sysproxy

import (
	"fmt"
	"strings"
)

// GNOME reads proxy settings from dconf. System-wide defaults go in a
// keyfile of the "local" system database, and the keys are locked so a
// user's session cannot change them; `dconf update` compiles the database.
const (
	gnomeKeyfile = "etc/dconf/db/local.d/00-greengate-proxy"
	gnomeLocks   = "etc/dconf/db/local.d/locks/greengate-proxy"
	gnomeProfile = "etc/dconf/profile/user"
)

// ApplyGNOME writes and locks GNOME's proxy settings (mode auto, the PAC
// URL), and makes sure the user profile reads the local system database.
func ApplyGNOME(root string, t Target) error {
	if err := t.check(); err != nil {
		return err
	}
	keyfile := marker + "\n[system/proxy]\nmode='auto'\nautoconfig-url='" + t.PAC + "'\n"
	locks := marker + "\n/system/proxy/mode\n/system/proxy/autoconfig-url\n"
	if err := writeFile(root, gnomeKeyfile, []byte(keyfile)); err != nil {
		return err
	}
	if err := writeFile(root, gnomeLocks, []byte(locks)); err != nil {
		return err
	}
	prof, err := readFile(root, gnomeProfile)
	if err != nil {
		return err
	}
	if prof == "" {
		// No profile yet: GreenGate's own, marked so Remove can take it
		// away again (dconf profiles allow # comments).
		return writeFile(root, gnomeProfile, []byte(ownProfile))
	}
	if !hasLine(prof, "system-db:local") {
		if !strings.HasSuffix(prof, "\n") {
			prof += "\n"
		}
		prof += "system-db:local\n"
		if err := writeFile(root, gnomeProfile, []byte(prof)); err != nil {
			return fmt.Errorf("adding the local database to the dconf profile: %w", err)
		}
	}
	return nil
}

// ownProfile is the dconf user profile ApplyGNOME writes where there was
// none: the default user database plus the local system database.
const ownProfile = marker + "\nuser-db:user\nsystem-db:local\n"

// RemoveGNOME removes the keyfile and locks, and the profile when it is
// still the one ApplyGNOME made from nothing; a profile that was there
// before keeps its system-db:local line (harmless, and other software may
// rely on it).
func RemoveGNOME(root string) error {
	if err := removeOwned(root, gnomeKeyfile); err != nil {
		return err
	}
	if err := removeOwned(root, gnomeLocks); err != nil {
		return err
	}
	prof, err := readFile(root, gnomeProfile)
	if err != nil || prof != ownProfile {
		return err
	}
	return removeOwned(root, gnomeProfile)
}

// GSettingsCommands set the same for one user's running session (what
// the tray can run as the user when dconf locks are not wanted).
func GSettingsCommands(t Target) ([][]string, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	return [][]string{
		{"gsettings", "set", "org.gnome.system.proxy", "autoconfig-url", t.PAC},
		{"gsettings", "set", "org.gnome.system.proxy", "mode", "auto"},
	}, nil
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}
