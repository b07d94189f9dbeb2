package awsdispatch

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/smithy-go/logging"
)

// SDKLogger returns a logger for aws.Config.Logger that writes the AWS
// SDK's own log lines (the request and retry logs of ClientLogMode, its
// notices) to l instead of plain text on stderr: classification WARN at
// slog.LevelWarn, DEBUG at slog.LevelDebug, any other at slog.LevelInfo,
// each with the attribute component=aws-sdk. A nil l discards them. New
// installs it, with Options.Logger, on the configuration its clients are
// built from.
func SDKLogger(l *slog.Logger) logging.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return sdkLogger{l: l, ctx: context.Background()}
}

type sdkLogger struct {
	l   *slog.Logger
	ctx context.Context
}

func (s sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelInfo
	switch c {
	case logging.Warn:
		level = slog.LevelWarn
	case logging.Debug:
		level = slog.LevelDebug
	}
	if !s.l.Enabled(s.ctx, level) {
		return // the SDK logs request bodies at debug: do not format them for nothing
	}
	s.l.Log(s.ctx, level, fmt.Sprintf(format, v...), "component", "aws-sdk")
}

// WithContext lets the SDK pass the request's context to the handler
// (trace ids, deadlines).
func (s sdkLogger) WithContext(ctx context.Context) logging.Logger {
	return sdkLogger{l: s.l, ctx: ctx}
}
