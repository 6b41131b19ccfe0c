package testinfra

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ScratchRepo returns a temporary repository beside the checkout at root, for tests that
// scaffold domains with `meshctl new`: a copy of contracts/ (the scaffold adds a proto package
// and its generated code), links to the real platform/, governance/ and bin/ (the pinned buf
// and plugins, built with `make tools` if missing), an empty domains/, and a go.work of those
// modules alone. Commands run inside it with GOWORK set to its go.work.
func ScratchRepo(t testing.TB, root string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(root, "bin", "protoc-gen-go-grpc")); err != nil {
		if out, err := exec.Command("make", "-C", root, "tools").CombinedOutput(); err != nil {
			t.Fatalf("make tools: %v\n%s", err, out)
		}
	}
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-r", filepath.Join(root, "contracts"), filepath.Join(dir, "contracts")).CombinedOutput(); err != nil {
		t.Fatalf("copy contracts: %v\n%s", err, out)
	}
	for _, name := range []string{"platform", "governance", "bin"} {
		if err := os.Symlink(filepath.Join(root, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "domains"), 0o755); err != nil {
		t.Fatal(err)
	}
	work := "go 1.26.8\n\nuse (\n\t./contracts\n\t./governance\n\t./platform\n)\n"
	if err := os.WriteFile(filepath.Join(dir, "go.work"), []byte(work), 0o644); err != nil {
		t.Fatal(err)
	}
	if sum, err := os.ReadFile(filepath.Join(root, "go.work.sum")); err == nil {
		if err := os.WriteFile(filepath.Join(dir, "go.work.sum"), sum, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
