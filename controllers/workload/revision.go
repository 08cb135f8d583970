package workload

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Revision identifies what a Deployment of the target would run: its pod template and the
// content of the ConfigMaps and Secrets the template references (configs holds a hash of each;
// see ConfigHashes). It is a short hash, stable across restarts.
func Revision(template *corev1.PodTemplateSpec, configs map[ConfigRef]string) string {
	h := sha256.New()
	// encoding/json sorts map keys, so equal templates hash equally.
	data, err := json.Marshal(template)
	if err != nil {
		// A PodTemplateSpec always marshals; keep a value that never matches a real one.
		return "unhashable"
	}
	h.Write(data)
	for _, ref := range ConfigRefs(&template.Spec) {
		fmt.Fprintf(h, "\n%s/%s=%s", ref.Kind, ref.Name, configs[ref])
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
