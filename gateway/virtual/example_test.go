package virtual_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hearth-wot/hearth/gateway/virtual"
)

// A gateway sees a virtual home through the Adapter: its things and their
// properties. The example drives the adapter directly, as a gateway would.
func Example() {
	a := virtual.New(virtual.Config{})
	defer a.Close()
	if err := a.Add(virtual.NewHome(42, time.UTC)...); err != nil {
		panic(err)
	}
	ctx := context.Background()
	tds, _ := a.Things(ctx)
	for _, td := range tds {
		fmt.Printf("%-36s %v\n", td.ID, td.Type.Values)
	}

	a.WriteProperty(ctx, "urn:hearth:home:living-room-light", "brightness", 30.0)
	a.WriteProperty(ctx, "urn:hearth:home:living-room-light", "on", true)
	on, _ := a.ReadProperty(ctx, "urn:hearth:home:living-room-light", "on")
	brightness, _ := a.ReadProperty(ctx, "urn:hearth:home:living-room-light", "brightness")
	fmt.Println("light on:", on, "at", brightness, "%")

	// Devices can be driven directly, and added at run time.
	door := virtual.NewContactSensor("urn:hearth:home:back-door", "Back door", virtual.ContactSensorOptions{})
	a.Add(door)
	door.SetOpen(true)
	open, _ := a.ReadProperty(ctx, "urn:hearth:home:back-door", "open")
	fmt.Println("back door open:", open)
	// Output:
	// urn:hearth:home:bathroom-window      [DoorSensor]
	// urn:hearth:home:bedroom-light        [Light OnOffSwitch]
	// urn:hearth:home:energy-meter         [EnergyMonitor]
	// urn:hearth:home:front-door           [DoorSensor]
	// urn:hearth:home:kitchen-plug         [SmartPlug OnOffSwitch EnergyMonitor]
	// urn:hearth:home:living-room-light    [Light OnOffSwitch]
	// urn:hearth:home:thermostat           [Thermostat TemperatureSensor]
	// urn:hearth:home:washing-machine      [EnergyMonitor]
	// light on: true at 30 %
	// back door open: true
}

// The energy meter's history is a pure function of its seed: a week of
// daily consumption, with the ground-truth occupancy.
func ExampleEnergyMeter_History() {
	m := virtual.NewEnergyMeter("urn:hearth:home:energy-meter", "Energy meter", virtual.EnergyMeterOptions{Seed: 42})
	from := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC) // a Saturday: changeover day
	days, err := m.History(from, from.AddDate(0, 0, 7), 24*time.Hour)
	if err != nil {
		panic(err)
	}
	for _, d := range days {
		fmt.Printf("%s %5.1f kWh  guests at noon: %v\n", d.Start.Format("Mon Jan 2"), d.Energy/1000, d.Occupied)
	}
	// Output:
	// Sat Jan 3  31.2 kWh  guests at noon: false
	// Sun Jan 4  34.3 kWh  guests at noon: true
	// Mon Jan 5  35.5 kWh  guests at noon: true
	// Tue Jan 6  33.9 kWh  guests at noon: true
	// Wed Jan 7  38.9 kWh  guests at noon: true
	// Thu Jan 8  30.6 kWh  guests at noon: true
	// Fri Jan 9  35.4 kWh  guests at noon: true
}
