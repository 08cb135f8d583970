package workload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ConfigHashes hashes the data of the ConfigMaps and Secrets a target references, so that a
// change of their content starts a rollout like a change of the pod template. Their metadata
// comes from the informer cache (metadata only, and without annotations, where kubectl keeps a
// copy of a Secret's data: no Secret data is kept in memory); the data
// is read once per resourceVersion and only its hash is remembered.
type ConfigHashes struct {
	// Cache reads metav1.PartialObjectMetadata from the informer cache.
	Cache client.Reader
	// APIReader reads the data of a ConfigMap or Secret whose resourceVersion is new.
	APIReader client.Reader

	mu   sync.Mutex
	memo map[types.UID]configHash
}

type configHash struct {
	resourceVersion string
	hash            string
}

// absent stands for a referenced ConfigMap or Secret that does not exist (it may be optional).
const absent = "absent"

// Of returns the hash of each referenced ConfigMap and Secret in namespace.
func (h *ConfigHashes) Of(ctx context.Context, namespace string, refs []ConfigRef) (map[ConfigRef]string, error) {
	out := make(map[ConfigRef]string, len(refs))
	for _, ref := range refs {
		hash, err := h.hashOf(ctx, namespace, ref)
		if err != nil {
			return nil, err
		}
		out[ref] = hash
	}
	return out, nil
}

func (h *ConfigHashes) hashOf(ctx context.Context, namespace string, ref ConfigRef) (string, error) {
	key := client.ObjectKey{Namespace: namespace, Name: ref.Name}
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind(string(ref.Kind)))
	if err := h.Cache.Get(ctx, key, meta); apierrors.IsNotFound(err) {
		return absent, nil
	} else if err != nil {
		return "", fmt.Errorf("read %s %s: %w", ref.Kind, key, err)
	}

	h.mu.Lock()
	known, ok := h.memo[meta.UID]
	h.mu.Unlock()
	if ok && known.resourceVersion == meta.ResourceVersion {
		return known.hash, nil
	}

	data, err := readConfigData(ctx, h.APIReader, key, ref.Kind)
	if apierrors.IsNotFound(err) {
		return absent, nil
	} else if err != nil {
		return "", err
	}
	hash := hashData(data)
	h.mu.Lock()
	if h.memo == nil {
		h.memo = map[types.UID]configHash{}
	}
	h.memo[meta.UID] = configHash{resourceVersion: meta.ResourceVersion, hash: hash}
	h.mu.Unlock()
	return hash, nil
}

// readConfigData returns the data of a ConfigMap or Secret, by key.
func readConfigData(ctx context.Context, r client.Reader, key client.ObjectKey, kind ConfigKind) (map[string][]byte, error) {
	data := map[string][]byte{}
	switch kind {
	case KindConfigMap:
		cm := &corev1.ConfigMap{}
		if err := r.Get(ctx, key, cm); err != nil {
			return nil, err
		}
		for k, v := range cm.Data {
			data[k] = []byte(v)
		}
		for k, v := range cm.BinaryData {
			data["binary:"+k] = v
		}
	case KindSecret:
		secret := &corev1.Secret{}
		if err := r.Get(ctx, key, secret); err != nil {
			return nil, err
		}
		maps.Copy(data, secret.Data)
		data["type:"] = []byte(secret.Type)
	}
	return data, nil
}

func hashData(data map[string][]byte) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(data)) {
		fmt.Fprintf(h, "%d:%s=%d:", len(k), k, len(data[k]))
		h.Write(data[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
