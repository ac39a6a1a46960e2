package thing

// Operation types of the TD 1.1 "op" vocabulary. Hearth names operations
// with these words everywhere: in forms, in consent grants and in
// authorization checks, so all three speak the same language.
const (
	OpReadProperty            = "readproperty"
	OpWriteProperty           = "writeproperty"
	OpObserveProperty         = "observeproperty"
	OpUnobserveProperty       = "unobserveproperty"
	OpInvokeAction            = "invokeaction"
	OpQueryAction             = "queryaction"
	OpCancelAction            = "cancelaction"
	OpSubscribeEvent          = "subscribeevent"
	OpUnsubscribeEvent        = "unsubscribeevent"
	OpReadAllProperties       = "readallproperties"
	OpWriteAllProperties      = "writeallproperties"
	OpReadMultipleProperties  = "readmultipleproperties"
	OpWriteMultipleProperties = "writemultipleproperties"
	OpObserveAllProperties    = "observeallproperties"
	OpUnobserveAllProperties  = "unobserveallproperties"
	OpQueryAllActions         = "queryallactions"
	OpSubscribeAllEvents      = "subscribeallevents"
	OpUnsubscribeAllEvents    = "unsubscribeallevents"
)
