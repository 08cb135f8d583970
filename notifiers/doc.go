// Package notifiers tells people in Slack how Fledge rollouts go.
//
// The controller keeps an outbox of Notifications in each Canary's status and hands them, one
// at a time and in order, to a Sender from a background worker, usually through Deliver, which
// retries what can succeed and gives up on what cannot. Nothing here talks to Kubernetes.
//
// Two Senders exist:
//
//   - SlackBot (a bot token) keeps one message per rollout, posted at the rollout's first
//     notification and updated in place afterwards, and replies in its thread for the turns
//     that matter (Halted, Aborted, Promoted, RequestRejected). Replies are delivered exactly
//     once: each carries the notification ID in Slack message metadata, and the thread is read
//     before replying. The rollout message itself is found again the same way after a lost
//     response, when the channel is configured by ID.
//   - SlackWebhook (an incoming webhook) posts one message per notification. Webhooks cannot
//     read or edit what they posted, so delivery is at least once.
//
// Secrets (the bot token, the webhook URL) never appear in returned errors.
package notifiers
