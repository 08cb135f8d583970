package workload

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
)

// Revision identifies a pod template: a short hash of its content, stable across restarts.
func Revision(template *corev1.PodTemplateSpec) string {
	// encoding/json sorts map keys, so equal templates hash equally.
	data, err := json.Marshal(template)
	if err != nil {
		// A PodTemplateSpec always marshals; keep a value that never matches a real one.
		return "unhashable"
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:12]
}
