package sysproxy

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/windows/registry"
)

// savedKey keeps, under HKLM, the values Apply overwrote (one value each,
// named "<key>\<value>"), until Remove puts them back. Its existence
// means "saved": a second Apply (an upgrade) must not save GreenGate's
// own values as the machine's.
const savedKey = `SOFTWARE\GreenGate\ProxyBefore`

// Apply points this machine's browsers at t, first keeping the values
// it overwrites (WindowsOverwrittenValues).
func (s System) Apply(ctx context.Context, t Target) error {
	cmds, err := WindowsCommands(t)
	if err != nil {
		return err
	}
	if err := saveOverwritten(); err != nil {
		return err // fail before changing anything
	}
	return s.runAll(ctx, cmds)
}

// Remove undoes Apply and restores what Apply overwrote; values already
// gone are not an error.
func (s System) Remove(ctx context.Context) error {
	for _, c := range WindowsRemoveCommands() {
		_ = s.run(ctx, c)
	}
	return restoreOverwritten()
}

func saveOverwritten() error {
	dst, existed, err := registry.CreateKey(registry.LOCAL_MACHINE, savedKey, registry.ALL_ACCESS|registry.WOW64_64KEY)
	if err != nil {
		return fmt.Errorf("saving the proxy settings in HKLM\\%s: %w", savedKey, err)
	}
	defer dst.Close()
	if existed {
		return nil
	}
	ok := false
	defer func() {
		if !ok { // a partial copy would later "restore" too little
			registry.DeleteKey(registry.LOCAL_MACHINE, savedKey)
		}
	}()
	var errs []error
	for _, v := range WindowsOverwrittenValues() {
		src, err := registry.OpenKey(registry.LOCAL_MACHINE, hklmPath(v.Key), registry.QUERY_VALUE|registry.WOW64_64KEY)
		if err != nil {
			continue // no key, no value to keep
		}
		err = copyValue(src, v.Name, dst, v.Key+`\`+v.Name)
		src.Close()
		if err != nil && !errors.Is(err, registry.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("saving the proxy settings: %w", err)
	}
	ok = true
	return nil
}

func restoreOverwritten() error {
	src, err := registry.OpenKey(registry.LOCAL_MACHINE, savedKey, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return nil // nothing was saved (an install older than the saving)
	}
	if err != nil {
		return fmt.Errorf("reading HKLM\\%s: %w", savedKey, err)
	}
	var errs []error
	for _, v := range WindowsOverwrittenValues() {
		dst, _, err := registry.CreateKey(registry.LOCAL_MACHINE, hklmPath(v.Key), registry.SET_VALUE|registry.WOW64_64KEY)
		if err != nil {
			errs = append(errs, fmt.Errorf("restoring %s\\%s: %w", v.Key, v.Name, err))
			continue
		}
		err = copyValue(src, v.Key+`\`+v.Name, dst, v.Name)
		dst.Close()
		if err != nil && !errors.Is(err, registry.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	src.Close()
	if err := errors.Join(errs...); err != nil {
		return err // keep the saved values for another try
	}
	if err := registry.DeleteKey(registry.LOCAL_MACHINE, savedKey); err != nil {
		return fmt.Errorf("deleting HKLM\\%s: %w", savedKey, err)
	}
	registry.DeleteKey(registry.LOCAL_MACHINE, `SOFTWARE\GreenGate`) // only if empty
	return nil
}

func hklmPath(key string) string { return strings.TrimPrefix(key, `HKLM\`) }

// copyValue copies one value with its type; registry.ErrNotExist when
// there is none.
func copyValue(src registry.Key, name string, dst registry.Key, as string) error {
	_, typ, err := src.GetValue(name, nil)
	if err != nil {
		return err
	}
	switch typ {
	case registry.SZ, registry.EXPAND_SZ:
		v, _, err := src.GetStringValue(name)
		if err != nil {
			return err
		}
		if typ == registry.EXPAND_SZ {
			return dst.SetExpandStringValue(as, v)
		}
		return dst.SetStringValue(as, v)
	case registry.DWORD, registry.QWORD:
		v, _, err := src.GetIntegerValue(name)
		if err != nil {
			return err
		}
		if typ == registry.DWORD {
			return dst.SetDWordValue(as, uint32(v))
		}
		return dst.SetQWordValue(as, v)
	case registry.MULTI_SZ:
		v, _, err := src.GetStringsValue(name)
		if err != nil {
			return err
		}
		return dst.SetStringsValue(as, v)
	case registry.BINARY: // WinHttpSettings
		v, _, err := src.GetBinaryValue(name)
		if err != nil {
			return err
		}
		return dst.SetBinaryValue(as, v)
	}
	return fmt.Errorf("%s: registry type %d is not one GreenGate writes; left as it is", name, typ)
}
