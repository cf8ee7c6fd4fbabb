"""Work orders (工单): the lifecycle state machine, working-day deadlines and the service that runs them."""
