package sysproxy

// /etc/environment is read by PAM at login: command-line tools (curl,
// wget, apt, pip) that honour http_proxy use the filter too. It holds
// KEY=value lines; GreenGate's are kept in a marked block.
const envFile = "etc/environment"

// ApplyEnvironment sets the proxy variables in /etc/environment.
func ApplyEnvironment(root string, t Target) error {
	if err := t.check(); err != nil {
		return err
	}
	text, err := readFile(root, envFile)
	if err != nil {
		return err
	}
	u := "http://" + t.Proxy
	block := "http_proxy=" + u + "\nhttps_proxy=" + u + "\nHTTP_PROXY=" + u + "\nHTTPS_PROXY=" + u +
		"\nno_proxy=localhost,127.0.0.1,::1\nNO_PROXY=localhost,127.0.0.1,::1\n"
	return writeFile(root, envFile, []byte(replaceBlock(text, block)))
}

// RemoveEnvironment removes GreenGate's block.
func RemoveEnvironment(root string) error {
	text, err := readFile(root, envFile)
	if err != nil || text == "" {
		return err
	}
	return writeFile(root, envFile, []byte(replaceBlock(text, "")))
}
