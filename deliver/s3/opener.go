package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logdelivery/logdelivery/deliver"
	"github.com/logdelivery/logdelivery/internal/awserr"
)

// GetObjectAPI is the part of the S3 API an Opener uses. *s3.Client
// implements it.
type GetObjectAPI interface {
	GetObject(ctx context.Context, in *awss3.GetObjectInput, optFns ...func(*awss3.Options)) (*awss3.GetObjectOutput, error)
}

// Opener opens objects of the central bucket with GetObject. It is safe
// for concurrent use.
type Opener struct {
	client GetObjectAPI
}

var _ deliver.Opener = (*Opener)(nil)

// NewOpener returns an Opener reading through client.
func NewOpener(client GetObjectAPI) *Opener {
	return &Opener{client: client}
}

// Open starts reading obj (its version, when VersionID is set). The caller
// closes the body. Errors are classified: a missing object, version or
// bucket is permanent; anything else is retryable, a denied read included
// (the processor's own permissions, not the object, are at fault).
func (o *Opener) Open(ctx context.Context, obj deliver.Object) (*deliver.Body, error) {
	out, err := o.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket:    aws.String(obj.Bucket),
		Key:       aws.String(obj.Key),
		VersionId: optional(obj.VersionID),
	})
	if err != nil {
		return nil, awserr.ClassifySource(fmt.Errorf("open s3://%s/%s: %w", obj.Bucket, obj.Key, err))
	}
	size := int64(-1)
	if out.ContentLength != nil {
		size = *out.ContentLength
	}
	return &deliver.Body{
		ReadCloser:      out.Body,
		ContentType:     aws.ToString(out.ContentType),
		ContentEncoding: aws.ToString(out.ContentEncoding),
		Size:            size,
		LastModified:    aws.ToTime(out.LastModified),
	}, nil
}
