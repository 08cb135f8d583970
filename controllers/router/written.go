package router

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"google.golang.org/protobuf/proto"
	istionetworkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// AnnotationWritten holds a digest of the spec Fledge last wrote to a routing object. A spec
// that no longer matches it was edited by someone else; one that matches is Fledge's own,
// however old (a crash may have come between the Canary's status and its routes).
const AnnotationWritten = "fledge.dev/written-spec"

// specOf is the spec of a VirtualService or DestinationRule.
func specOf(obj client.Object) (proto.Message, error) {
	switch o := obj.(type) {
	case *istionetworkingv1.VirtualService:
		return &o.Spec, nil
	case *istionetworkingv1.DestinationRule:
		return &o.Spec, nil
	}
	return nil, fmt.Errorf("not a routing object: %T", obj)
}

// specDigest is a digest of the spec of a VirtualService or DestinationRule.
func specDigest(obj client.Object) (string, error) {
	spec, err := specOf(obj)
	if err != nil {
		return "", err
	}
	// Deterministic: equal specs (proto.Equal, which decides whether to write) give equal bytes.
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(spec)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16]), nil
}

// stampWritten records the digest of obj's spec as Fledge's.
func stampWritten(obj client.Object) error {
	digest, err := specDigest(obj)
	if err != nil {
		return err
	}
	annotations := obj.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationWritten] = digest
	obj.SetAnnotations(annotations)
	return nil
}

// isEdited reports whether obj's spec differs from the one Fledge last wrote; an object
// without the digest (written by an older Fledge) is taken as Fledge's.
func isEdited(obj client.Object) bool {
	written := obj.GetAnnotations()[AnnotationWritten]
	if written == "" {
		return false
	}
	digest, err := specDigest(obj)
	return err != nil || digest != written
}
