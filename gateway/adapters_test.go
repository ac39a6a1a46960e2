package gateway_test

import (
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway/gatewaytest"
	"github.com/hearth-wot/hearth/gateway/virtual"
)

// The adapters shipped with Hearth meet the Adapter contract.
func TestVirtualAdapterConforms(t *testing.T) {
	a := virtual.New(virtual.Config{})
	defer a.Close()
	a.Add(virtual.NewHome(1, time.UTC)...)
	gatewaytest.TestAdapter(t, a)
}
