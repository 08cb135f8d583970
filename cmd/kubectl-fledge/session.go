package main

import (
	"context"
	"errors"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"fledge.dev/fledge/apis"
	fledgev1alpha1 "fledge.dev/fledge/apis/fledge/v1alpha1"
)

// session is what every command shares: the kubectl flags and, once connected, a client.
type session struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams

	client    client.WithWatch
	namespace string
}

// connect builds the client from the kubectl flags (kubeconfig, context, namespace, ...).
func (s *session) connect() error {
	if s.client != nil {
		return nil
	}
	config, err := s.flags.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("read the kubeconfig: %w", err)
	}
	config.UserAgent = "kubectl-fledge"
	namespace, _, err := s.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return fmt.Errorf("find the namespace in the kubeconfig: %w", err)
	}
	c, err := client.NewWithWatch(config, client.Options{Scheme: apis.NewScheme(), Mapper: staticMapper()})
	if err != nil {
		return fmt.Errorf("create a client for %s: %w", config.Host, err)
	}
	s.client, s.namespace = c, namespace
	return nil
}

// staticMapper knows the few kinds the plugin reads. It spares every command the discovery
// requests (and their disk cache) that a dynamic mapper makes before the first real call.
func staticMapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(fledgev1alpha1.GroupVersion.WithKind("Canary"), meta.RESTScopeNamespace)
	m.Add(corev1.SchemeGroupVersion.WithKind("Event"), meta.RESTScopeNamespace)
	m.Add(corev1.SchemeGroupVersion.WithKind("Namespace"), meta.RESTScopeRoot)
	m.Add(authenticationv1.SchemeGroupVersion.WithKind("SelfSubjectReview"), meta.RESTScopeRoot)
	return m
}

// getCanary reads a canary of the session's namespace, with an error that says plainly what
// is missing: the canary, its namespace, or the Canary API itself.
func (s *session) getCanary(ctx context.Context, name string) (*fledgev1alpha1.Canary, error) {
	canary := &fledgev1alpha1.Canary{}
	err := s.client.Get(ctx, client.ObjectKey{Namespace: s.namespace, Name: name}, canary)
	if err != nil {
		return nil, s.explain(ctx, err, name)
	}
	return canary, nil
}

// explain turns the errors of a request about canary name into messages for a person.
func (s *session) explain(ctx context.Context, err error, name string) error {
	switch {
	case apierrors.IsNotFound(err) && apiMissing(err):
		return errCanaryAPIMissing
	case apierrors.IsNotFound(err):
		if missing := s.namespaceMissing(ctx); missing != nil {
			return missing
		}
		return fmt.Errorf("canary %q not found in namespace %q", name, s.namespace)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("you may not read canary %s in namespace %s: %w", name, s.namespace, err)
	}
	return fmt.Errorf("read canary %s in namespace %s: %w", name, s.namespace, err)
}

var errCanaryAPIMissing = errors.New("the Canary API (canaries.fledge.dev/v1alpha1) is not installed in this cluster: install Fledge's CRDs first")

// apiMissing tells a 404 for an unknown resource type (the server names no object) from a
// 404 for a missing object.
func apiMissing(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return false
	}
	details := status.Status().Details
	return details == nil || details.Name == ""
}

// namespaceMissing returns an error when the session's namespace does not exist, and nil
// when it does or the account may not tell.
func (s *session) namespaceMissing(ctx context.Context) error {
	err := s.client.Get(ctx, client.ObjectKey{Name: s.namespace}, &corev1.Namespace{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("namespace %q not found", s.namespace)
	}
	return nil
}
