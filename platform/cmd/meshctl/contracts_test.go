package main

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoregistry"
)

// contractsGen is the contracts module's generated Go, seen from this package's directory.
const contractsGen = "../../../contracts/gen/go"

// TestContractsLinked checks that every .proto file generated into the contracts module is
// linked into meshctl (contracts.go), so `meshctl lint --contracts` checks all of them.
func TestContractsLinked(t *testing.T) {
	t.Parallel()
	var sources []string
	err := filepath.WalkDir(contractsGen, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".pb.go") {
			return err
		}
		src, err := generatedFrom(path)
		if err != nil {
			return err
		}
		if src != "" {
			sources = append(sources, src)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", contractsGen, err)
	}
	if len(sources) == 0 {
		t.Fatalf("no generated files under %s", contractsGen)
	}
	for _, src := range sources {
		if !strings.HasPrefix(src, contractsPrefix) {
			t.Errorf("%s is outside %s: lint --contracts would not check it", src, contractsPrefix)
		}
		if _, err := protoregistry.GlobalFiles.FindFileByPath(src); err != nil {
			t.Errorf("%s is not linked into meshctl: import its package in contracts.go", src)
		}
	}
}

// generatedFrom reads the "// source: <file>.proto" line protoc-gen-go writes at the top.
func generatedFrom(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for i := 0; i < 20 && sc.Scan(); i++ {
		if src, ok := strings.CutPrefix(sc.Text(), "// source: "); ok {
			return strings.TrimSpace(src), nil
		}
	}
	return "", sc.Err()
}
