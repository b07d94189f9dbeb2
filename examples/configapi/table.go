package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/logdelivery/logdelivery/tenant"
)

// openTable opens the DynamoDB store of table.
func openTable(ctx context.Context, table string, logger *slog.Logger) (tenant.Store, string, error) {
	return nil, "", errors.New("TENANT_CONFIG_TABLE is not supported yet")
}
