package onboardingtest

import "testing"

func TestDirectory(t *testing.T) {
	d := &Directory{}
	TestRegistrar(t, d, func() []string {
		var ids []string
		for _, td := range d.Things() {
			ids = append(ids, td.ID)
		}
		return ids
	})
}
