package gatewaytest_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/hearth-wot/hearth/gateway/gatewaytest"
	"github.com/hearth-wot/hearth/thing"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestAdapterConforms(t *testing.T) {
	td := thing.New("urn:test:lamp", "Lamp").
		Property("on", thing.Boolean().Default(false)).
		Property("level", thing.Integer().Range(0, 10).Default(3)).
		Property("temp", thing.Number().ReadOnly().Default(20.5)).
		MustBuild()
	gatewaytest.TestAdapter(t, gatewaytest.NewAdapter(td))
}
