package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// BuildManager builds cmd/manager into output with go build's extra args (flags, tags) and
// env, in the background, so that it builds while the control plane starts: the channel
// answers once, with the build's error.
func BuildManager(output string, env []string, args ...string) <-chan error {
	built := make(chan error, 1)
	go func() {
		root, err := RepoRoot()
		if err != nil {
			built <- err
			return
		}
		args := append(append([]string{"build"}, args...), "-o", output, "./cmd/manager")
		build := exec.Command("go", args...)
		build.Dir = root
		build.Env = append(os.Environ(), env...)
		out, err := build.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		built <- err
	}()
	return built
}
