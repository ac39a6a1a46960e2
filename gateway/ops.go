package gateway

import "github.com/hearth-wot/hearth/thing"

// opIndex numbers the TD 1.1 operations the Server offers.
type opIndex uint8

const (
	opReadProperty opIndex = iota
	opWriteProperty
	opObserveProperty
	opUnobserveProperty
	opInvokeAction
	opQueryAction
	opCancelAction
	opSubscribeEvent
	opUnsubscribeEvent
	opReadAllProperties
	opReadMultipleProperties
	opWriteMultipleProperties
	opQueryAllActions
	opSubscribeAllEvents
	opUnsubscribeAllEvents
	numOps
)

var opNames = [numOps]string{
	opReadProperty:            thing.OpReadProperty,
	opWriteProperty:           thing.OpWriteProperty,
	opObserveProperty:         thing.OpObserveProperty,
	opUnobserveProperty:       thing.OpUnobserveProperty,
	opInvokeAction:            thing.OpInvokeAction,
	opQueryAction:             thing.OpQueryAction,
	opCancelAction:            thing.OpCancelAction,
	opSubscribeEvent:          thing.OpSubscribeEvent,
	opUnsubscribeEvent:        thing.OpUnsubscribeEvent,
	opReadAllProperties:       thing.OpReadAllProperties,
	opReadMultipleProperties:  thing.OpReadMultipleProperties,
	opWriteMultipleProperties: thing.OpWriteMultipleProperties,
	opQueryAllActions:         thing.OpQueryAllActions,
	opSubscribeAllEvents:      thing.OpSubscribeAllEvents,
	opUnsubscribeAllEvents:    thing.OpUnsubscribeAllEvents,
}

func (o opIndex) String() string { return opNames[o] }

// opSet is a set of operations.
type opSet uint32

func opBit(o opIndex) opSet { return 1 << o }

func (s opSet) has(o opIndex) bool { return s&opBit(o) != 0 }

// ops lists the operations of s in order.
func (s opSet) ops() []opIndex {
	var out []opIndex
	for o := range numOps {
		if s.has(o) {
			out = append(out, o)
		}
	}
	return out
}

// The pairs of operations a stream or a client's unsubscription performs
// together: the TD offers (and the Server authorizes) them as one.
var (
	propertyOps = opBit(opReadProperty) | opBit(opWriteProperty) | opBit(opObserveProperty) | opBit(opUnobserveProperty)
	actionOps   = opBit(opInvokeAction) | opBit(opQueryAction) | opBit(opCancelAction)
	eventOps    = opBit(opSubscribeEvent) | opBit(opUnsubscribeEvent)
)
