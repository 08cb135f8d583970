package plugin_test

import (
	"context"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("errors and completion", func() {
	It("says which canary or namespace does not exist", func(ctx context.Context) {
		ns := newNamespace(ctx, "")
		r := kubectl(ctx, "fledge", "get", "nope", "-n", ns)
		Expect(r.exitCode).To(Equal(1))
		Expect(r.stderr).To(Equal(`error: canary "nope" not found in namespace "` + ns + `"` + "\n"))

		r = kubectl(ctx, "fledge", "promote", "nope", "-n", ns)
		Expect(r.exitCode).To(Equal(1))
		Expect(r.stderr).To(Equal(`error: canary "nope" not found in namespace "` + ns + `"` + "\n"))

		r = kubectl(ctx, "fledge", "status", "web", "-n", "no-such-namespace")
		Expect(r.exitCode).To(Equal(1))
		Expect(r.stderr).To(Equal(`error: namespace "no-such-namespace" not found` + "\n"))

		r = kubectl(ctx, "fledge", "list", "-n", "no-such-namespace")
		Expect(r.exitCode).To(Equal(1))
		Expect(r.stderr).To(Equal(`error: namespace "no-such-namespace" not found` + "\n"))

		r = kubectl(ctx, "fledge", "list", "-n", ns)
		Expect(r.exitCode).To(Equal(0))
		Expect(r.stderr).To(Equal("No canaries found in namespace " + ns + ".\n"))
	})

	It("completes canary names through kubectl", func(ctx context.Context) {
		ns := newNamespace(ctx, "")
		newApp(ctx, ns, "web")
		newApp(ctx, ns, "checkout")

		// The word to complete comes last.
		r := kubectl(ctx, "__complete", "fledge", "promote", "--kubeconfig", stack.KubeconfigPath, "-n", ns, "")
		Expect(r.exitCode).To(Equal(0), r.stderr)
		Expect(strings.Split(r.stdout, "\n")[:2]).To(Equal([]string{"checkout", "web"}))

		r = kubectl(ctx, "fledge", "completion", "bash")
		Expect(r.exitCode).To(Equal(0), r.stderr)
		Expect(r.stdout).To(ContainSubstring("bash completion"))
	})
})
