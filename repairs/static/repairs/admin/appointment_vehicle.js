// Booking an appointment: the vehicle picker lists only the chosen customer's vehicles (the
// vehicle search reads `vehicle_owner`), and choosing another customer clears the vehicle.
'use strict';
{
    const $ = django.jQuery;
    $.ajaxPrefilter(function(options) {
        const data = typeof options.data === 'string' ? options.data : '';
        if (!/(^|&)model_name=appointment(&|$)/.test(data) ||
                !/(^|&)field_name=vehicle(&|$)/.test(data)) {
            return;
        }
        const customer = document.getElementById('id_customer');
        if (customer && customer.value) {
            options.data = data + '&vehicle_owner=' + encodeURIComponent(customer.value);
        }
    });
    $(document).on('change', '#id_customer', function() {
        $('#id_vehicle').val(null).trigger('change');
    });
}
