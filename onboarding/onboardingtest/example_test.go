package onboardingtest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/onboardingtest"
	"github.com/hearth-wot/hearth/thing"
)

// A Directory is the Registrar of tests and examples: a Session registers
// what it onboards there, as it would with a gateway adapter. (A gateway
// adapter checks its own Registrar with TestRegistrar in a test:
// onboardingtest.TestRegistrar(t, adapter, adapter.IDs).)
func ExampleDirectory() {
	ctx := context.Background()
	dir := &onboardingtest.Directory{}

	for _, d := range []struct{ id, title string }{
		{"urn:hearth:plug:kitchen", "Kitchen plug"},
		{"urn:hearth:lamp:hall", "Hall lamp"},
	} {
		td, err := thing.New(d.id, d.title).Build()
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := dir.Register(ctx, &onboarding.Registration{ID: d.id, Description: td}); err != nil {
			fmt.Println(err)
			return
		}
	}
	for _, td := range dir.Things() {
		fmt.Printf("%s %q\n", td.ID, td.Title)
	}

	// A device that rolled back is unregistered.
	dir.Unregister(ctx, "urn:hearth:plug:kitchen")
	_, ok := dir.Lookup("urn:hearth:plug:kitchen")
	fmt.Println("kitchen plug listed:", ok)

	// Err makes the directory refuse, to test a failing registration.
	dir.Err = errors.New("directory full")
	td, _ := thing.New("urn:hearth:plug:garage", "Garage plug").Build()
	fmt.Println("register:", dir.Register(ctx, &onboarding.Registration{ID: td.ID, Description: td}))

	// Output:
	// urn:hearth:lamp:hall "Hall lamp"
	// urn:hearth:plug:kitchen "Kitchen plug"
	// kitchen plug listed: false
	// register: directory full
}
