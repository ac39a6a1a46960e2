// Command webthing-lamp serves the canonical WebThings "My Lamp" (an on/off
// switch with a brightness, a fade action and an overheated event) through
// a Hearth gateway, for interoperability tests against the WebThings
// ecosystem, such as the WebThings conformance tester (test-client.py of
// github.com/WebThingsIO/webthing-tester):
//
//	go run ./examples/webthing-lamp            # the lamp at /
//	go run ./examples/webthing-lamp -multi     # a list at /, the lamp at /0
//	python3 test-client.py --host 127.0.0.1 [--path-prefix /0]
//
// The same lamp is also served over the W3C WoT API at
// /things/urn:dev:ops:my-lamp-1234, and the directory at /.well-known/wot.
//
// WARNING: the WebThings tools know no authentication, so this example uses
// gateway.InsecureAllowAll: anyone who can reach it controls the lamp. It
// listens on the loopback interface only; keep it that way.
package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hearth-wot/hearth/gateway"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8888", "listen address")
	multi := flag.Bool("multi", false, "use the multi-thing layout (the lamp at /0)")
	verbose := flag.Bool("v", false, "log debug messages")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(*addr, *multi, log); err != nil {
		log.Error("webthing-lamp", "err", err)
		os.Exit(1)
	}
}

// newGateway returns a gateway serving a new lamp in the WebThings single-
// or multi-thing layout.
func newGateway(multi bool, log *slog.Logger) (*gateway.Server, error) {
	layout := gateway.WebThingsSingle
	if multi {
		layout = gateway.WebThingsMulti
	}
	gw, err := gateway.New(gateway.Config{
		Authorizer: gateway.InsecureAllowAll(), // development and interop tests only
		Logger:     log,
		WebThings:  gateway.WebThings{Layout: layout},
	})
	if err != nil {
		return nil, err
	}
	if err := gw.AddAdapter(context.Background(), NewLamp()); err != nil {
		gw.Close()
		return nil, err
	}
	return gw, nil
}

func run(addr string, multi bool, log *slog.Logger) error {
	gw, err := newGateway(multi, log)
	if err != nil {
		return err
	}
	srv := gateway.RecommendedHTTPServer(addr, gw)
	srv.RegisterOnShutdown(func() { gw.Close() })
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("webthing-lamp: serving My Lamp", "addr", "http://"+addr+"/", "multi", multi)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := gw.Shutdown(sctx); err != nil {
		log.Warn("webthing-lamp: gateway shutdown", "err", err)
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
