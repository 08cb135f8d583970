package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AlertProviderSpec says where rollout news goes.
// +kubebuilder:validation:XValidation:rule="has(self.botToken) != has(self.webhookURL)",message="set exactly one of botToken (Slack bot token, one updated message per rollout) or webhookURL (incoming webhook, one message per transition)"
// +kubebuilder:validation:XValidation:rule="!has(self.botToken) || has(self.channel)",message="a Slack bot token needs a channel to post to"
type AlertProviderSpec struct {
	// type of the provider; only slack is supported.
	// +optional
	// +kubebuilder:default=slack
	// +kubebuilder:validation:Enum=slack
	Type string `json:"type,omitempty"`

	// channel to post to, for example "#deploys" or a channel ID.
	// +optional
	// +kubebuilder:validation:MaxLength=80
	Channel string `json:"channel,omitempty"`

	// username shown as the author of the messages.
	// +optional
	// +kubebuilder:validation:MaxLength=80
	Username string `json:"username,omitempty"`

	// iconEmoji shown next to the messages, for example ":bird:".
	// +optional
	// +kubebuilder:validation:MaxLength=80
	IconEmoji string `json:"iconEmoji,omitempty"`

	// botToken is the Secret key holding a Slack bot token (xoxb-...).
	// +optional
	BotToken *SecretKeyRef `json:"botToken,omitempty"`

	// webhookURL is the Secret key holding a Slack incoming-webhook URL.
	// +optional
	WebhookURL *SecretKeyRef `json:"webhookURL,omitempty"`

	// sharedWith lists the namespaces, other than its own, whose Canaries may use this provider,
	// and so its credentials; "*" shares it with every namespace. Unset, only Canaries of its
	// own namespace may: a Canary elsewhere that names it is told so in its status.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$`
	SharedWith []string `json:"sharedWith,omitempty"`
}

// SecretKeyRef names one key of a Secret in the same namespace.
type SecretKeyRef struct {
	// secretName is the name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`

	// key within the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
}

// AlertProvider is a destination for rollout news, such as a Slack channel.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=fap,categories=fledge
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Channel",type=string,JSONPath=`.spec.channel`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AlertProvider struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says where the news goes.
	// +required
	Spec AlertProviderSpec `json:"spec"`
}

// AlertProviderList is a list of AlertProviders.
// +kubebuilder:object:root=true
type AlertProviderList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AlertProvider `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AlertProvider{}, &AlertProviderList{})
}
