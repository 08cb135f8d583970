package cluster_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"fledge.dev/fledge/test/cluster"
)

// No suite, demo or benchmark runs the manager as the administrator: in-process managers are
// made by Cluster.NewManager, and the manager binary gets Cluster.ManagerKubeconfig. This
// reads the sources, so that a new suite cannot take the shortcut unnoticed.
func TestNoManagerRunsAsAdministrator(t *testing.T) {
	root, err := cluster.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// The only places that may build a manager from a rest.Config of their own.
	allowed := map[string]bool{
		"cmd/manager/main.go":    true, // the real manager, with its pod's identity
		"test/cluster/rights.go": true, // Cluster.NewManager, with the manager's identity
	}
	newManager := regexp.MustCompile(`\bctrl\.NewManager\(|\bmanager\.New\(`)
	// A process started with the administrator's kubeconfig (the control plane's own parts
	// in test/cluster do, rightly).
	adminProcess := regexp.MustCompile(`StartProcess\([^;{}]*KubeconfigPath`)
	scanned := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "test/tools" || rel == "bin" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || allowed[rel] {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scanned++
		src := string(data)
		if loc := newManager.FindStringIndex(src); loc != nil {
			t.Errorf("%s:%d builds a manager itself: use Cluster.NewManager, which gives it the rights config/default installs", rel, line(src, loc[0]))
		}
		if loc := adminProcess.FindStringIndex(src); loc != nil && !strings.HasPrefix(rel, "test/cluster/") {
			t.Errorf("%s:%d starts a process with the administrator's kubeconfig: a manager gets Cluster.ManagerKubeconfig", rel, line(src, loc[0]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 50 {
		t.Fatalf("read only %d Go files under %s: the walk missed the sources", scanned, root)
	}
}

func line(src string, offset int) int { return strings.Count(src[:offset], "\n") + 1 }
