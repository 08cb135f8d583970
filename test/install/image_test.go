package install_test

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"fledge.dev/fledge/test/cluster"
)

// imageBuild is how the Dockerfile builds the manager; the install suite builds the binary it
// runs the same way, so that what it proves holds for what the image ships.
var imageBuild = struct{ env, flags []string }{
	env:   []string{"CGO_ENABLED=0"},
	flags: []string{"-trimpath", "-ldflags=-s -w"},
}

// The image holds one static binary on distroless's static base, run as a non-root user.
// (No container runtime runs the tests; the build itself is checked here and by the suite.)
func TestDockerfileBuildsAStaticManagerRunAsNonRoot(t *testing.T) {
	g := NewWithT(t)
	root, err := cluster.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	g.Expect(err).NotTo(HaveOccurred())
	dockerfile := string(data)

	var froms []string
	var user string
	for _, line := range strings.Split(dockerfile, "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "FROM":
			froms = append(froms, fields[len(fields)-1])
		case "USER":
			user = fields[1]
		}
	}
	g.Expect(froms).NotTo(BeEmpty())
	g.Expect(dockerfile).To(ContainSubstring("FROM gcr.io/distroless/static:nonroot\n"), "the last stage's base")
	g.Expect(user).To(Equal("65532:65532"), "a numeric non-root user, which the kubelet can check against runAsNonRoot")
	g.Expect(dockerfile).To(ContainSubstring("CGO_ENABLED=0 "), "the suite builds as the Dockerfile does: %v", imageBuild)
	g.Expect(dockerfile).To(ContainSubstring("go build -trimpath -ldflags '-s -w' "), "the suite builds as the Dockerfile does: %v", imageBuild)
	g.Expect(dockerfile).To(ContainSubstring("ENTRYPOINT [\"/fledge-manager\"]"))
}

// isStatic reports whether the ELF file at path needs no dynamic loader nor shared library.
func isStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			return false, nil
		}
	}
	libs, err := f.ImportedLibraries()
	return len(libs) == 0, err
}
