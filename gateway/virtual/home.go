package virtual

import "time"

// NewHome returns the devices of a typical holiday home, for demos: a
// dimmable living-room light, a bedroom light, a thermostat, a kitchen
// smart plug (a 1.2 kW heater), a washing machine, a front-door and a
// bathroom-window sensor, and a whole-home energy meter whose household is
// drawn from seed. Their ids are "living-room-light", "bedroom-light",
// "thermostat", "kitchen-plug", "washing-machine", "front-door",
// "bathroom-window" and "energy-meter". Add them with Adapter.Add.
func NewHome(seed uint64, loc *time.Location) []Device {
	return []Device{
		NewDimmableLight("living-room-light", "Living room light"),
		NewLight("bedroom-light", "Bedroom light"),
		NewThermostat("thermostat", "Thermostat", ThermostatOptions{Initial: 17}),
		NewSmartPlug("kitchen-plug", "Kitchen plug", SmartPlugOptions{Seed: seed, Load: 1200}),
		NewWashingMachine("washing-machine", "Washing machine", WashingMachineOptions{}),
		NewContactSensor("front-door", "Front door", ContactSensorOptions{}),
		NewContactSensor("bathroom-window", "Bathroom window", ContactSensorOptions{Window: true}),
		NewEnergyMeter("energy-meter", "Energy meter", EnergyMeterOptions{Seed: seed, Location: loc}),
	}
}
