// Package httpsend is what the HTTP destination kinds (deliver/opensearch,
// deliver/dataprepper, deliver/webhook) share: the JSON document of a
// record (Document), request bodies bounded in bytes and items (Batch),
// the delivery loop that reads records, fills batches and sends them in
// order while the next one is built (Run), single attempts and retries
// with jittered exponential backoff within the context's deadline,
// honouring Retry-After (Sender, Retry), an attempt in flight when its
// delivery is cancelled given Sender.CancelGrace to be answered (so that
// what the destination took is counted, not sent again), the classification of answers
// into fault classes (RetryableStatus, StatusError), response bodies
// capped with egress.ReadBody, the checks of the settings they have in
// common (Problems), and checkpoints after every batch the destination
// answered for good (Checkpoint, Checkpoints), from which a retry resumes.
//
// Every request goes through a client from egress.NewClient: the kinds
// build it, and the URLs of their settings are checked with the same
// egress.Policy when configs are written.
package httpsend
